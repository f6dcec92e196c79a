// The fault matrix's one table: which fault, injected into which cloud request of which MCM
// operation, ends with which MCM code. It is the README's "Error codes" table made concrete per
// operation (README row in `readme`); where an operation's rules change the outcome (a 404 on
// delete is success, a 403 on a read by providerID is healed, a transient fault on a retried read
// is absorbed) the cell says so. Codes are MCM's (= gRPC) numbers; 0 = OK.
import { MachineCode as C } from '../../src/driver/codes.js';
import type { CloudKit, CloudName, Fault } from '../support/cloud-kits.js';

export type Operation = 'create' | 'lookup' | 'get' | 'delete' | 'list';
export const OPERATIONS: Operation[] = ['create', 'lookup', 'get', 'delete', 'list'];

/** What each operation is, for test names. */
export const OPERATION_NAMES: Record<Operation, string> = {
  create: 'CreateMachine (fault on the create request)',
  lookup: 'CreateMachine of an existing VM (fault on the lookup)',
  get: 'GetMachineStatus by providerID',
  delete: 'DeleteMachine',
  list: 'ListMachines',
};

/** A persistent fault outlasts the retry budget (1 attempt + 4 retries). */
const PERSISTENT = 20;
/** The kit's per-attempt cloud timeout in the matrix, and a delay that passes it. */
export const MATRIX_HTTP_TIMEOUT_MS = 1_500;
export const TIMEOUT_DELAY_MS = 2_300;

export interface FaultRow {
  readme: string;
  fault: (kit: CloudKit) => Omit<Fault, 'method' | 'path'>;
  /** Expected code per operation; a function when it depends on the cloud. */
  /** The code the cell must answer; a list where the cloud's timing decides between them (each one safe). */
  expect: Record<Operation, number | ((cloud: CloudName) => number | number[])>;
}

const status = (s: number, headers?: Record<string, string>, times = PERSISTENT) => () => ({ status: s, headers, times });

/**
 * A create that made its VM: OK. VPSie's create answers no id, so its VM is adopted by the driver's one lookup
 * after the request when VPSie lists it by then (OK), else by MCM's next call (Unavailable with the intent first).
 */
const asyncCreate = (c: CloudName): number | number[] => (c === 'vpsie' ? [C.Unavailable, C.OK] : C.OK);

/** Same code for every operation except the ones named. */
function all(code: number, except: Partial<Record<Operation, number | ((cloud: CloudName) => number | number[])>> = {}): FaultRow['expect'] {
  return { create: code, lookup: code, get: code, delete: code, list: code, ...except };
}

export const FAULT_TABLE: Record<string, FaultRow> = {
  'HTTP 400': { readme: '400, 422', fault: status(400), expect: all(C.InvalidArgument) },
  'HTTP 401': { readme: '401, token refused', fault: status(401), expect: all(C.Unauthenticated) },
  // A 403 on the read by providerID: the VM carrying the Machine's markers is found and reported (README CloudSigma row, provider-neutral).
  'HTTP 403': { readme: '403', fault: status(403), expect: all(C.PermissionDenied, { get: C.OK }) },
  // 404: GetMachineStatus NotFound (MCM then calls CreateMachine, which adopts by markers). DeleteMachine takes a 404
  // to its delete request as "gone" but then waits until the VM reads as gone: a VM that still exists ends DeadlineExceeded.
  // VPSie checks a "not found" against the VM list before it believes it (README VPSie), so its read by providerID heals.
  'HTTP 404': { readme: '404', fault: status(404), expect: all(C.NotFound, { delete: C.DeadlineExceeded, get: (c) => (c === 'vpsie' ? C.OK : C.NotFound) }) },
  'HTTP 409': { readme: '409', fault: status(409), expect: all(C.Aborted) },
  'HTTP 429': { readme: '429 (after retries)', fault: status(429), expect: all(C.Unavailable) },
  // Two 429s with Retry-After: 1 s: a retried read waits and succeeds; a create is never retried.
  'HTTP 429 + Retry-After': { readme: '429 (Retry-After honoured)', fault: status(429, { 'retry-after': '1' }, 2), expect: all(C.OK, { create: C.Unavailable }) },
  'HTTP 500': { readme: '5xx (after retries)', fault: status(500), expect: all(C.Unavailable) },
  'HTTP 502': { readme: '5xx (after retries)', fault: status(502), expect: all(C.Unavailable) },
  'HTTP 503': { readme: '5xx (after retries)', fault: status(503), expect: all(C.Unavailable) },
  'HTTP 504': { readme: '5xx (after retries)', fault: status(504), expect: all(C.Unavailable) },
  // VPSie's create answers no id: MachineDriver's one lookup after it does not see the VM yet, so the call answers
  // Unavailable with the create intent and MCM's next pass adopts the VM (checked by the convergence step).
  'added latency (0.5 s)': { readme: '—', fault: () => ({ delayMs: 500 }), expect: all(C.OK, { create: asyncCreate }) },
  // One attempt passes the per-attempt timeout: a read is retried; a create is followed by a lookup, not a second POST.
  'request timeout': {
    readme: 'request timeout',
    fault: () => ({ delayMs: TIMEOUT_DELAY_MS }),
    expect: all(C.OK, { create: C.DeadlineExceeded }),
  },
  'connection reset': { readme: 'connection reset (after retries)', fault: () => ({ reset: true, times: PERSISTENT }), expect: all(C.Unavailable) },
  // The request took effect, its answer is cut mid-body / lost: a read is retried; a create is looked up and adopted.
  'response cut mid-body': { readme: 'connection reset', fault: () => ({ afterSuccess: 'truncate' }), expect: all(C.OK, { create: asyncCreate }) },
  'success, response lost': { readme: 'connection reset', fault: () => ({ afterSuccess: 'drop' }), expect: all(C.OK, { create: asyncCreate }) },
  'malformed JSON (HTTP 200)': { readme: 'malformed body', fault: () => ({ rawBody: '{"items": [{"id": "', status: 200 }), expect: all(C.Unavailable) },
  // Each cloud's own error format with HTTP 200, meaning "temporarily unavailable". STACKIT and CloudSigma: a body that is
  // not the expected object is malformed (Unavailable); a delete answered so has not deleted, so the wait ends
  // DeadlineExceeded. VPSie reads it as the status it stands for (here 503 → Unavailable).
  'HTTP 200 with an error body': {
    readme: 'malformed body; VPSie: HTTP 200 with an error body',
    fault: (kit) => ({ status: 200, body: kit.errorBody200 }),
    expect: all(C.Unavailable, {
      // STACKIT reads no body on DELETE, so it waits for a deletion that never started (DeadlineExceeded, the
      // next call sends it again); VPSie and CloudSigma read the error in the body (CloudSigma: cloudsigma-docs
      // errors.rst's error list) and answer Unavailable at once.
      delete: (c) => (c === 'stackit' ? C.DeadlineExceeded : C.Unavailable),
    }),
  },
};

export function expectedCodes(row: FaultRow, op: Operation, cloud: CloudName): number[] {
  const e = row.expect[op];
  return [typeof e === 'function' ? e(cloud) : e].flat();
}
