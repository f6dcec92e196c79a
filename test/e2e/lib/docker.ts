// The docker CLI for the provider-container scenario: the image check that
// gates it (synchronous, at module load, so jest can mark the test skipped)
// and an async runner.
import { spawn, spawnSync } from 'node:child_process';

/** The single provider container image (`Dockerfile` target `provider`, built by .ci/run). */
export const PROVIDER_IMAGE = process.env.MCM_E2E_PROVIDER_IMAGE ?? 'mcm-grpc-driver-provider:dev';

/** Why the provider image cannot be run here, or undefined when it can. */
export function providerImageUnavailable(): string | undefined {
  const r = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', PROVIDER_IMAGE], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `the docker CLI cannot run (${r.error.message})`;
  if (r.status !== 0) return `docker image inspect ${PROVIDER_IMAGE} failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  return undefined;
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `docker <args>`; rejects only when the CLI cannot start or runs out of time. */
export function docker(args: string[], timeoutMs = 60_000): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const cp = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    cp.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    cp.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      cp.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')}: no answer in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    cp.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    cp.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like docker(), but a non-zero exit is an error naming the command and its stderr. */
export async function dockerOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}
