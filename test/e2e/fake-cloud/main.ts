// The fake clouds of the e2e suite as one process, with an admin API.
//
//   node --import tsx test/e2e/fake-cloud/main.ts \
//     --cloud stackit=18080 [--cloud <id>=<port> ...] --admin-listen 127.0.0.1:18090 \
//     [--active-after-ms 1500] [--delete-after-ms 1000]
//
// Each cloud's stateful fake listens on 127.0.0.1:<port> (Prism, in front of
// it, is what the sidecar talks to). The admin API is what the suite uses; it
// is the same whether this runs beside the suite (local) or in a kind pod
// (reached through `kubectl port-forward`):
//
//   GET    /healthz
//   GET    /clouds/<id>/vms              every VM, normalized (clouds/types.ts NormalizedVm)
//   POST   /clouds/<id>/vms              seed a VM: SeedRequest
//   DELETE /clouds/<id>/vms/<vmId>       delete a VM through the cloud's own API
//   POST   /clouds/<id>/faults           FaultRequest
//   DELETE /clouds/<id>/faults           clear faults
//   GET    /clouds/<id>/creates          machine names of every create request, in order
//   POST   /clouds/<id>/listing-lag      {createMs?, deleteMs?}: listings lag creates and completed deletes ({} = none)
//
// Prints one JSON line {"ready":true,...} on stdout once everything listens.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { cloudById } from '../clouds/index.js';
import type { FakeCloudInstance, FaultRequest, SeedRequest } from '../clouds/types.js';

const { values } = parseArgs({
  options: {
    cloud: { type: 'string', multiple: true },
    'admin-listen': { type: 'string', default: '127.0.0.1:18090' },
    'active-after-ms': { type: 'string', default: '1500' },
    'delete-after-ms': { type: 'string', default: '1000' },
    // Not used: names the suite's run directory on the command line, so a later run can reap us by pid.
    'run-dir': { type: 'string' },
  },
});

// A parent that dies without stopping us (SIGKILL of the test runner) leaves us re-parented: exit then.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && process.env.MCM_E2E_STANDALONE !== '1') process.exit(0);
}, 1000).unref();

async function main(): Promise<void> {
  const timing = { activeAfterMs: Number(values['active-after-ms']), deleteAfterMs: Number(values['delete-after-ms']) };
  const fakes = new Map<string, FakeCloudInstance>();
  for (const spec of values.cloud ?? []) {
    const [id, port] = spec.split('=');
    if (!id || !port) throw new Error(`--cloud ${spec}: want <id>=<port>`);
    fakes.set(id, await cloudById(id).fake(timing, Number(port)));
  }
  if (fakes.size === 0) throw new Error('no --cloud given');

  const [host, portText] = splitHostPort(values['admin-listen']!);
  const admin = createServer((req, res) => {
    handle(fakes, req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(Number(portText), host, () => resolve());
  });

  const shutdown = async (): Promise<void> => {
    admin.close();
    for (const f of fakes.values()) await f.close().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());

  process.stdout.write(
    JSON.stringify({ ready: true, admin: `http://${values['admin-listen']}`, clouds: Object.fromEntries([...fakes].map(([id, f]) => [id, f.url])) }) + '\n',
  );
}

async function handle(fakes: Map<string, FakeCloudInstance>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const method = req.method ?? 'GET';
  if (url.pathname === '/healthz') return send(res, 200, { ok: true, clouds: [...fakes.keys()] });
  const m = /^\/clouds\/([^/]+)\/(vms|faults|creates|listing-lag)(?:\/([^/]+))?$/.exec(url.pathname);
  const fake = m ? fakes.get(m[1]!) : undefined;
  if (!m || !fake) return send(res, 404, { error: `no route ${method} ${url.pathname}` });
  const [, , what, id] = m;
  const body = method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : undefined;

  if (what === 'vms' && method === 'GET' && !id) return send(res, 200, fake.vms());
  if (what === 'vms' && method === 'POST' && !id) return send(res, 201, fake.seed(body as SeedRequest));
  if (what === 'vms' && method === 'DELETE' && id) {
    await fake.remove(id);
    return send(res, 204);
  }
  if (what === 'faults' && method === 'POST') {
    fake.injectFault(body as FaultRequest);
    return send(res, 201, { ok: true });
  }
  if (what === 'faults' && method === 'DELETE') {
    fake.clearFaults();
    return send(res, 204);
  }
  if (what === 'creates' && method === 'GET') return send(res, 200, fake.createdMachines());
  if (what === 'listing-lag' && method === 'POST') {
    if (!fake.setListingLag) return send(res, 501, { error: `cloud ${m[1]!}: its fake has no listing lag` });
    fake.setListingLag(body as { createMs?: number; deleteMs?: number });
    return send(res, 204);
  }
  return send(res, 405, { error: `method ${method} not allowed on ${url.pathname}` });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function splitHostPort(hp: string): [string, string] {
  const i = hp.lastIndexOf(':');
  if (i < 0) throw new Error(`want host:port, got ${hp}`);
  return [hp.slice(0, i), hp.slice(i + 1)];
}

main().catch((err: unknown) => {
  process.stderr.write(`fake-cloud: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
