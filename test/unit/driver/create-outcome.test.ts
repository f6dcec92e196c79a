import { MachineCode } from '../../../src/driver/codes.js';
import { NoVmRequestedError, mayHaveTakenEffect } from '../../../src/driver/create-outcome.js';
import { asMachineError } from '../../../src/driver/errors.js';
import { MachineError } from '../../../src/driver/machine-error.js';
import { CloudApiError } from '../../../src/http/cloud-api-error.js';

// The one "may this create have taken effect?" classifier: a wrong "no" costs a second VM, a wrong
// "yes" holds the Machine back for a discovery window.
describe('mayHaveTakenEffect', () => {
  const http = (status: number, fields: Partial<CloudApiError['fields']> = {}) => new CloudApiError('cloudsigma', 'create server', 'http', { status, ...fields });

  test('no answer, a 5xx or an unreadable body may have taken effect', () => {
    expect(mayHaveTakenEffect(new CloudApiError('stackit', 'create server', 'timeout'))).toBe(true);
    expect(mayHaveTakenEffect(new CloudApiError('stackit', 'create server', 'network'))).toBe(true);
    expect(mayHaveTakenEffect(new CloudApiError('stackit', 'create server', 'malformed', { status: 200 }))).toBe(true);
    expect(mayHaveTakenEffect(http(502))).toBe(true);
    expect(mayHaveTakenEffect(http(503))).toBe(true);
  });

  test('a 4xx, a 429, a capacity answer and a cloud-stated refusal did not', () => {
    expect(mayHaveTakenEffect(http(400))).toBe(false);
    expect(mayHaveTakenEffect(http(429))).toBe(false);
    expect(mayHaveTakenEffect(http(503, { quota: true }))).toBe(false);
    // CloudSigma's concurrency error (errors.rst): the API says it did not carry the request out.
    expect(mayHaveTakenEffect(http(503, { notApplied: true }))).toBe(false);
  });

  test('a MachineError carrying the cloud\'s answer is judged by that answer; without one, by its code', () => {
    // An adapter that adds what it kept (lastKnownState) to the cloud's answer: CloudSigma's concurrency 503 still refuses.
    expect(mayHaveTakenEffect(new MachineError(MachineCode.Unavailable, 'create server refused', {}, { cause: http(503, { notApplied: true }) }))).toBe(false);
    expect(mayHaveTakenEffect(new MachineError(MachineCode.Unavailable, 'create server failed', {}, { cause: http(502) }))).toBe(true);
    expect(mayHaveTakenEffect(asMachineError(http(400)))).toBe(false);
    expect(mayHaveTakenEffect(new MachineError(MachineCode.Unavailable, 'no server id in the answer'))).toBe(true);
    expect(mayHaveTakenEffect(new MachineError(MachineCode.InvalidArgument, 'bad name'))).toBe(false);
  });

  test('a step before the VM request refuses; a cancelled call may have sent it', () => {
    expect(mayHaveTakenEffect(new NoVmRequestedError('clone', new MachineError(MachineCode.Unavailable, 'clone failed')))).toBe(false);
    const aborted = new AbortController();
    aborted.abort();
    expect(mayHaveTakenEffect(new Error('boom'), aborted.signal)).toBe(true);
    expect(mayHaveTakenEffect(new CloudApiError('vpsie', 'create vm', 'canceled'))).toBe(true);
  });
});
