import nock from 'nock';

/**
 * Confines nock to the test file that calls this.
 *
 * nock patches Node's http module, which every test file in one jest worker
 * shares, while each file loads its own copy of nock (its own module
 * registry). A file that only re-enables net connect leaves its copy's
 * interceptor in place, so a later file's requests pass through it, and a
 * request that times out there is reported as an unhandled 'error' from the
 * interceptor's mock socket (seen: cloud-http-client's "a timeout is
 * DeadlineExceeded" failed whenever any nock file, VPSie's or CloudSigma's,
 * ran before it in the same worker). So every nock file restores Node's http
 * in afterAll, and activates its own copy again if an earlier file's restore
 * left it inactive.
 */
export function isolateNock(): void {
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
  });
  afterEach(() => nock.cleanAll());
  afterAll(() => {
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  });
}
