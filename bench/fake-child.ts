// A cloud fake as a process of its own (forked by bench/lib/fake.ts), so that the cloud's work
// (building and serialising responses) runs neither in the sidecar nor in the process that
// measures. Controlled over the fork IPC channel.
//
// Two kinds:
// - BENCH_FAKE_CLOUD unset: the STACKIT fake of test/fakes/stackit, with BENCH_FAKE_LATENCY_MS
//   (its latencyMs option), VMs become ACTIVE and disappear after DELETE at once;
// - BENCH_FAKE_CLOUD=<id>: the fake of the e2e suite's CloudDescriptor <id>
//   (test/e2e/clouds/<id>.ts), for the ListMachines scale run of clouds other than STACKIT.
import { startStackitFake } from '../test/fakes/stackit/index.js';

export type FakeCommand =
  | {
      id: number;
      cmd: 'seed';
      projectId: string;
      region: string;
      count: number;
      /** Server i is named `${namePrefix}${i}`; with machineLabel also labelled <machineLabel>=<that name>. */
      namePrefix: string;
      labels: Record<string, string>;
      machineLabel?: string;
    }
  | { id: number; cmd: 'seedVms'; count: number; namePrefix: string; machineClass: string; cluster: string }
  | { id: number; cmd: 'reset' }
  | { id: number; cmd: 'close' };

export interface FakeReply {
  id: number;
  ok: boolean;
  error?: string;
  ids?: string[];
  url?: string;
}

interface Instance {
  url: string;
  seed?(cmd: Extract<FakeCommand, { cmd: 'seed' }>): string[];
  seedVms?(cmd: Extract<FakeCommand, { cmd: 'seedVms' }>): void;
  reset?(): void;
  close(): Promise<void>;
}

async function start(): Promise<Instance> {
  const cloud = process.env.BENCH_FAKE_CLOUD;
  if (cloud) {
    // Not a static import: the e2e suite's descriptors are someone else's moving target.
    const clouds = (await import(new URL('../test/e2e/clouds/index.js', import.meta.url).href)) as {
      cloudById(id: string): { fake(timing: { activeAfterMs: number; deleteAfterMs: number }, port: number): Promise<any> };
    };
    const fake = await clouds.cloudById(cloud).fake({ activeAfterMs: 0, deleteAfterMs: 0 }, 0);
    return {
      url: fake.url,
      seedVms(c) {
        for (let i = 0; i < c.count; i++) {
          const name = `${c.namePrefix}${i}`;
          fake.seed({ name, markers: { machine: name, machineClass: c.machineClass, cluster: c.cluster } });
        }
      },
      close: () => fake.close(),
    };
  }
  const fake = await startStackitFake({ activeAfterMs: 0, deleteAfterMs: 0, latencyMs: Number(process.env.BENCH_FAKE_LATENCY_MS ?? '0') });
  return {
    url: fake.url,
    seed(c) {
      const ids: string[] = [];
      for (let i = 0; i < c.count; i++) {
        const name = `${c.namePrefix}${i}`;
        const labels = { ...c.labels, ...(c.machineLabel ? { [c.machineLabel]: name } : {}) };
        const s = fake.seedServer({ projectId: c.projectId, region: c.region, name, labels, machineType: 'c2i.2', imageId: '0b5f7e4c-1b7a-4c1e-9b65-2d0c9c1e7a11' });
        if (c.count <= 10_000) ids.push(s.id);
      }
      return ids;
    },
    reset: () => fake.reset(),
    close: () => fake.close(),
  };
}

const instance = await start();

process.on('message', (raw) => {
  const msg = raw as FakeCommand;
  const reply = (r: Omit<FakeReply, 'id'>) => process.send!({ id: msg.id, ...r });
  const unsupported = () => reply({ ok: false, error: `${msg.cmd} is not supported by this fake` });
  try {
    switch (msg.cmd) {
      case 'seed':
        if (!instance.seed) return unsupported();
        reply({ ok: true, ids: instance.seed(msg) });
        break;
      case 'seedVms':
        if (!instance.seedVms) return unsupported();
        instance.seedVms(msg);
        reply({ ok: true });
        break;
      case 'reset':
        if (!instance.reset) return unsupported();
        instance.reset();
        reply({ ok: true });
        break;
      case 'close':
        void instance.close().then(() => {
          reply({ ok: true });
          process.disconnect();
        });
        break;
    }
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
});

process.send!({ id: 0, ok: true, url: instance.url });
