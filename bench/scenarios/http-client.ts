// 6b. The cloud HTTP client alone: the driver's CloudHttpClient (got, configured as the STACKIT
// adapter configures it: bearer hook, retry policy, timeout, metrics) against a bare node:http
// request with a keep-alive agent, both in this process against the same fake, in alternating
// blocks. It prices the part of the per-request overhead that a leaner client would remove.
import { CloudHttpClient } from '../../src/http/cloud-http-client.js';
import type { FakeProcess } from '../lib/fake.js';
import { CLASS_LABELS, DirectStackit, MACHINE_LABEL, PROJECT_ID, REGION } from '../lib/stackit.js';
import { spread, summarize, type Spread } from '../lib/stats.js';

export interface HttpClientResult {
  requests: number;
  runs: number;
  got: { p50: Spread; cpuMs: Spread };
  nodeHttp: { p50: Spread; cpuMs: Spread };
  addedP50: Spread;
  addedCpuMs: Spread;
}

export async function runHttpClient(fake: FakeProcess, o: { runs: number; requests: number; block: number }): Promise<HttpClientResult> {
  await fake.reset();
  const [id] = await fake.seed({ projectId: PROJECT_ID, region: REGION, count: 1, namePrefix: 'client-', labels: CLASS_LABELS, machineLabel: MACHINE_LABEL });
  const path = `/v2/projects/${PROJECT_ID}/regions/${REGION}/servers/${id}`;
  const cloud = new CloudHttpClient({
    cloud: 'stackit',
    baseUrl: fake.url,
    timeoutMs: 60_000,
    authorize: async () => ({ authorization: 'Bearer fake-static-token' }),
    errorMessage: (body) => (body as { msg?: string } | undefined)?.msg,
  });
  const direct = new DirectStackit(fake.url, 1);
  const viaGot = async () => {
    const res = await cloud.request<{ status: string }>({ operation: 'get server', method: 'GET', path, searchParams: { details: true }, signal: new AbortController().signal });
    if (res.body.status !== 'ACTIVE') throw new Error('got: unexpected answer');
  };
  const viaHttp = () => direct.getMachineStatus(id!);
  const runs: { got: { p50: number; cpu: number }; http: { p50: number; cpu: number } }[] = [];
  try {
    for (let i = 0; i < 300; i++) await Promise.all([viaGot(), viaHttp()]); // warm-up
    for (let r = 0; r < o.runs; r++) {
      const lat = { got: [] as number[], http: [] as number[] };
      const cpu = { got: 0, http: 0 };
      for (let done = 0; done < o.requests; done += o.block) {
        for (const [name, fn] of (done / o.block) % 2 === 0 ? ([['got', viaGot], ['http', viaHttp]] as const) : ([['http', viaHttp], ['got', viaGot]] as const)) {
          const c0 = process.cpuUsage();
          for (let i = 0; i < o.block; i++) {
            const t0 = performance.now();
            await fn();
            lat[name].push(performance.now() - t0);
          }
          const c = process.cpuUsage(c0);
          cpu[name] += (c.user + c.system) / 1000;
        }
      }
      runs.push({ got: { p50: summarize(lat.got).p50, cpu: cpu.got / o.requests }, http: { p50: summarize(lat.http).p50, cpu: cpu.http / o.requests } });
    }
  } finally {
    direct.close();
  }
  process.stdout.write(`  http client: got ${runs.map((r) => r.got.p50.toFixed(3)).join('/')} ms, node:http ${runs.map((r) => r.http.p50.toFixed(3)).join('/')} ms p50\n`);
  return {
    requests: o.requests,
    runs: o.runs,
    got: { p50: spread(runs.map((r) => r.got.p50)), cpuMs: spread(runs.map((r) => r.got.cpu)) },
    nodeHttp: { p50: spread(runs.map((r) => r.http.p50)), cpuMs: spread(runs.map((r) => r.http.cpu)) },
    addedP50: spread(runs.map((r) => r.got.p50 - r.http.p50)),
    addedCpuMs: spread(runs.map((r) => r.got.cpu - r.http.cpu)),
  };
}
