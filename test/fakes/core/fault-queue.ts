// Injected failures, consumed first-registered-first by the requests they match.
import type { FaultSpec } from './fault-spec.js';

interface ArmedFault {
  spec: FaultSpec;
  remaining: number;
}

export class FaultQueue {
  private armed: ArmedFault[] = [];

  inject(spec: FaultSpec): void {
    const remaining = spec.times ?? 1;
    if (!Number.isInteger(remaining) || remaining < 1) throw new Error('FaultSpec.times must be a positive integer');
    this.armed.push({ spec, remaining });
  }

  clear(): void {
    this.armed = [];
  }

  /** The fault that applies to this request, if any; counts it as used. */
  take(method: string, path: string, query: Record<string, string> = {}): FaultSpec | undefined {
    const fault = this.armed.find(
      ({ spec }) =>
        (spec.method === undefined || spec.method.toUpperCase() === method.toUpperCase()) &&
        (spec.path === undefined || testRegExp(spec.path, path)) &&
        Object.entries(spec.query ?? {}).every(([k, v]) => query[k] === v),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.armed = this.armed.filter((f) => f !== fault);
    return fault.spec;
  }
}

function testRegExp(re: RegExp, value: string): boolean {
  // A /g or /y RegExp keeps lastIndex between test() calls and would match only every other time.
  re.lastIndex = 0;
  return re.test(value);
}
