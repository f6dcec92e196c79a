import * as grpc from '@grpc/grpc-js';
import { DriverClient } from './proto.js';
import { decodeStatusDetails, type DecodedStatus } from './rich-status.js';

export type DriverMethod = 'CreateMachine' | 'InitializeMachine' | 'DeleteMachine' | 'GetMachineStatus' | 'ListMachines' | 'GetVolumeIDs';

/** A failed call as the bridge sees it: the MCM code, the message, and the attached response if any. */
export class DriverCallError extends Error {
  override readonly name = 'DriverCallError';
  constructor(
    readonly code: number,
    readonly details: string,
    readonly status: DecodedStatus | undefined,
  ) {
    super(`driver call failed with code ${code}: ${details}`);
  }

  /** The response packed into grpc-status-details-bin, if any. */
  get response(): Record<string, unknown> | undefined {
    return this.status?.details[0]?.value;
  }
}

export function isDriverCallError(err: unknown): err is DriverCallError {
  return err instanceof DriverCallError;
}

/**
 * A small promise client of the Driver service, the way the Go bridge uses it:
 * used by the demo, the tests and the benchmarks.
 */
export class DriverServiceClient {
  private readonly client: grpc.Client;

  constructor(target: string) {
    this.client = new DriverClient(target, grpc.credentials.createInsecure());
  }

  call<Res = Record<string, unknown>>(method: DriverMethod, request: object, options: { deadlineMs?: number } = {}): Promise<Res> {
    const deadline = options.deadlineMs ? new Date(Date.now() + options.deadlineMs) : undefined;
    const fn = (this.client as unknown as Record<string, grpc.requestCallback<Res> & Function>)[method]!;
    return new Promise<Res>((resolve, reject) => {
      fn.call(this.client, request, new grpc.Metadata(), deadline ? { deadline } : {}, (err: grpc.ServiceError | null, res?: Res) => {
        if (err) reject(new DriverCallError(err.code as number, err.details, decodeStatusDetails(err.metadata)));
        else resolve(res as Res);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
