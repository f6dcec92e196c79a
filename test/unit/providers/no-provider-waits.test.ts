// Issue 12: "no provider contains adoption, duplicate or timeout rules". Every wait (a step before
// the VM, a stop before a delete, what a VM owned going) is MachineDriver's (src/driver/poll.ts), so
// no adapter may sleep or answer DeadlineExceeded itself; and "may this request have taken effect?"
// has one owner (src/driver/create-outcome.ts, used by machine-driver.ts alone), so no adapter
// imports it. This keeps the rules true for new code.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../../src/support/package-root.js';

const PROVIDERS = join(packageRoot, 'src', 'providers');
/**
 * The one exemption: VPSie's token bucket waits for the account's request budget before a request
 * goes (a rate limit every call shares, not a lifecycle wait, and it never answers a timeout).
 */
const MAY_SLEEP = new Set(['vpsie/request-rate-limiter.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(PROVIDERS).map((path) => ({ name: relative(PROVIDERS, path).split('\\').join('/'), text: readFileSync(path, 'utf8') }));

test('the providers are found (the check below is not vacuous)', () => {
  expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(['cloudsigma/cloudsigma-provider.ts', 'stackit/stackit-provider.ts', 'vpsie/vpsie-provider.ts']));
});

test.each(files.map((f) => [f.name, f.text]))('%s answers no DeadlineExceeded of its own', (_name, text) => {
  expect(text).not.toMatch(/DeadlineExceeded/);
});

test.each(files.filter((f) => !MAY_SLEEP.has(f.name)).map((f) => [f.name, f.text]))('%s does not sleep, poll or set a timer', (_name, text) => {
  expect(text).not.toMatch(/node:timers|setTimeout\(|setInterval\(|pollUntil/);
});

test.each(files.map((f) => [f.name, f.text]))('%s leaves "may have taken effect" to MachineDriver', (_name, text) => {
  expect(text).not.toMatch(/create-outcome|mayHaveTakenEffect|NoVmRequestedError/);
});
