// Issue 11 item 4: the extension mounts the CloudProfile's CA at
// /etc/ssl/certs/cloudprofile-ca.crt (gardener-extension-provider-stackit
// pkg/webhook/controlplane/ensurer.go). Go trusts it by itself; Node does not, so the sidecar
// loads it (src/http/trusted-cas.ts). Here the STACKIT fake sits behind an HTTPS front whose
// certificate a CA made by this test signs; the sidecar reaches it only through that CA file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MachineCode } from '../../src/driver/codes.js';
import { MachineDriver } from '../../src/driver/machine-driver.js';
import { setExtraCaFiles, trustedCas } from '../../src/http/trusted-cas.js';
import { defaultProviders } from '../../src/providers/index.js';
import { DriverServiceClient } from '../../src/server/driver-client.js';
import { startSidecar } from '../../src/server/sidecar.js';
import { startStackitFake, type StackitFake } from '../fakes/stackit/index.js';
import { callError } from '../support/call-error.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, STATIC_TOKEN } from '../support/stackit-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'mcm-ca-'));
const caFile = join(dir, 'ca.crt');
let fake: StackitFake;
let front: Server;
let frontUrl: string;

/** A CA and a 127.0.0.1 server certificate it signs, made with the machine's openssl. */
function makeCa(): { key: string; cert: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=mcm-grpc-driver test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1', '-extfile', 'san.ext');
  return { key: readFileSync(join(dir, 'srv.key'), 'utf8'), cert: readFileSync(join(dir, 'srv.crt'), 'utf8') };
}

beforeAll(async () => {
  fake = await startStackitFake({ activeAfterMs: 50, deleteAfterMs: 50 });
  const upstream = new URL(fake.url);
  front = createHttpsServer(makeCa(), (req, res) => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(out);
  });
  await new Promise<void>((ok) => front.listen(0, '127.0.0.1', ok));
  frontUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
});
afterAll(async () => {
  front.closeAllConnections();
  await new Promise((ok) => front.close(ok));
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.MCM_DRIVER_CLOUDPROFILE_CA;
  setExtraCaFiles([]);
});

/** A fresh sidecar (fresh HTTP clients, so the CA set in force now applies). */
async function createThroughSidecar(machine: string) {
  const driver = new MachineDriver(defaultProviders({ retry: { limit: 0 }, stackit: { iaasEndpoint: frontUrl } }), {
    pollIntervalMs: 50,
    createTimeoutMs: 5_000,
  });
  const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '', driver, shutdownGraceMs: 500 });
  const client = new DriverServiceClient(sidecar.grpcTarget);
  try {
    return await client.call<{ providerId: string }>('CreateMachine', {
      machine: Buffer.from(JSON.stringify({ metadata: { name: machine, namespace: NAMESPACE }, spec: { providerID: '' } })),
      machineClass: Buffer.from(JSON.stringify({ metadata: { name: CLASS_NAME, namespace: NAMESPACE }, provider: 'STACKIT', providerSpec: BASE_SPEC })),
      secretData: { 'project-id': Buffer.from(PROJECT_ID), token: Buffer.from(STATIC_TOKEN) },
    });
  } finally {
    client.close();
    await sidecar.shutdown();
  }
}

test('without the CA the HTTPS endpoint is refused (Node ignores /etc/ssl/certs)', async () => {
  process.env.MCM_DRIVER_CLOUDPROFILE_CA = join(dir, 'absent.crt');
  setExtraCaFiles([]);
  const err = await callError(createThroughSidecar('alpha-worker-z1-noca'));
  expect(err.code).toBe(MachineCode.Unavailable);
  expect(fake.requests).toHaveLength(0);
});

test('the CloudProfile CA at its mount path (moved here by MCM_DRIVER_CLOUDPROFILE_CA) is trusted', async () => {
  process.env.MCM_DRIVER_CLOUDPROFILE_CA = caFile;
  setExtraCaFiles([]);
  const status = await createThroughSidecar('alpha-worker-z1-cpca');
  expect(status.providerId).toMatch(/^stackit:\/\//);
});

test('a CA file the operator names (--ca-file) is trusted besides the system roots', async () => {
  process.env.MCM_DRIVER_CLOUDPROFILE_CA = join(dir, 'absent.crt');
  setExtraCaFiles([caFile]);
  const status = await createThroughSidecar('alpha-worker-z1-opca');
  expect(status.providerId).toMatch(/^stackit:\/\//);
  expect(trustedCas().length).toBeGreaterThan(100); // Node's bundled roots stay
});

test('an operator CA file that cannot be read stops the start with its name', () => {
  setExtraCaFiles([join(dir, 'missing.pem')]);
  expect(() => trustedCas()).toThrow(/CA file .*missing\.pem cannot be read: ENOENT/);
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
  setExtraCaFiles([join(dir, 'junk.pem')]);
  expect(() => trustedCas()).toThrow(/holds no PEM certificate/);
});
