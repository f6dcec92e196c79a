// Starts bench/fake-child.ts (the STACKIT fake) as a separate process and drives it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FakeCommand, FakeReply } from '../fake-child.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Command = WithoutId<FakeCommand>;

export interface FakeProcess {
  url: string;
  pid: number;
  latencyMs: number;
  /** STACKIT fake: seeds servers; returns their IDs (for up to 10,000). */
  seed(cmd: Omit<Extract<FakeCommand, { cmd: 'seed' }>, 'id' | 'cmd'>): Promise<string[]>;
  /** e2e descriptor fake: seeds VMs carrying the driver's markers. */
  seedVms(cmd: Omit<Extract<FakeCommand, { cmd: 'seedVms' }>, 'id' | 'cmd'>): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('../fake-child.ts', import.meta.url));

/** The STACKIT fake answering every request after `latencyMs`; or, with `cloud`, the e2e suite's fake of that cloud. */
export async function startFake(latencyMs = 0, cloud?: string): Promise<FakeProcess> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_OPTIONS: '', BENCH_FAKE_LATENCY_MS: String(latencyMs), BENCH_FAKE_CLOUD: cloud ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (r: FakeReply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (raw) => {
    const r = raw as FakeReply;
    pending.get(r.id)?.resolve(r);
    pending.delete(r.id);
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`the fake exited (${code})`));
    pending.clear();
  });
  const ready = await new Promise<FakeReply>((resolve, reject) => pending.set(0, { resolve, reject }));
  if (!ready.ok) throw new Error(`the fake did not start: ${ready.error}`);

  const send = (cmd: Command) =>
    new Promise<FakeReply>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...cmd, id });
    }).then((r) => {
      if (!r.ok) throw new Error(`fake: ${r.error}`);
      return r;
    });

  return {
    url: ready.url!,
    pid: child.pid!,
    latencyMs,
    seed: async (cmd) => (await send({ cmd: 'seed', ...cmd })).ids ?? [],
    seedVms: async (cmd) => void (await send({ cmd: 'seedVms', ...cmd })),
    reset: async () => void (await send({ cmd: 'reset' })),
    close: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await send({ cmd: 'close' }).catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
