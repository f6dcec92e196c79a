// Starts bench/empty-grpc-child.ts and calls its empty unary method: the cost of a grpc-js call on
// loopback by itself, the baseline the issue-15 latency target is a multiple of.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';

const CHILD = fileURLToPath(new URL('../empty-grpc-child.ts', import.meta.url));
const identity = (b: Buffer) => b;
const EMPTY = Buffer.alloc(0);

export interface EmptyGrpc {
  pid: number;
  /** One empty unary call, resolved when its answer arrived. */
  call(): Promise<void>;
  close(): Promise<void>;
}

export async function startEmptyGrpc(): Promise<EmptyGrpc> {
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the empty gRPC server exited (${code})`)));
  });
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    pid: child.pid!,
    call: () =>
      new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest('/bench.Empty/Call', identity, identity, EMPTY, (err) => (err ? reject(err) : resolve())),
      ),
    async close() {
      client.close();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
