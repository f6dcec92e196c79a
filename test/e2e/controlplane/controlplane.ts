// Local Kubernetes control plane for the end-to-end suite, without Docker:
// etcd + kube-apiserver built from the Go module proxy by ./build.sh, started on
// free 127.0.0.1 ports, with MCM's CRDs installed. See
// ../shared/docs/local-control-plane.md (§1.3 B) for the recipe.
//
// Nothing here talks to the network beyond 127.0.0.1. Every process started is
// tracked by pid and killed by pid (stop(), or the process exit/signal hooks).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ControlPlane {
  /** Path of the admin kubeconfig (client cert in group system:masters, CA-verified TLS). */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  apiserverUrl: string;
  /** Run directory: pki/, etcd data, kubeconfig, etcd.log, kube-apiserver.log. */
  workDir: string;
  binDir: string;
  crdsDir: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Run directory. Default: a fresh mkdtemp dir, removed by stop(). A caller-given dir is kept (only etcd data is removed). */
  workDir?: string;
  /** Max time to wait for /readyz (ms). Default 120000 (first start on 2 cores can be slow). */
  readyTimeoutMs?: number;
  /** Keep the run directory on stop() (also: MCM_E2E_KEEP=1). */
  keep?: boolean;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BUILD_SCRIPT = path.join(HERE, 'build.sh');
export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

/** Root of the binary cache (same rule as build.sh). */
export function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return process.env.MCM_E2E_CACHE || path.join(xdg, 'mcm-grpc-driver');
}

/** Log file of the last ensureBinaries() build. */
export function buildLogPath(): string {
  return path.join(cacheRoot(), 'build.log');
}

// ---------------------------------------------------------------------------
// Process tracking: everything we start, so nothing leaks.

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const cp of live) {
    if (cp.pid !== undefined && cp.exitCode === null && cp.signalCode === null) {
      try {
        process.kill(cp.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  live.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  tempDirs.clear();
}
const tempDirs = new Set<string>();

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAllSync();
      // If we were the only listener, restore the default behaviour (terminate).
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

function isRunning(cp: ChildProcess): boolean {
  return cp.exitCode === null && cp.signalCode === null;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
async function terminate(cp: ChildProcess, graceMs = 10_000): Promise<void> {
  if (cp.pid === undefined || !isRunning(cp)) {
    live.delete(cp);
    return;
  }
  const exited = new Promise<void>((resolve) => cp.once('exit', () => resolve()));
  try {
    process.kill(cp.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    }),
  ]);
  if (timer) clearTimeout(timer);
  if (timedOut && isRunning(cp)) {
    try {
      process.kill(cp.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await exited;
  }
  live.delete(cp);
}

/** Start a long-running binary with stdout+stderr appended to logFile. */
function startLogged(bin: string, args: string[], logFile: string): ChildProcess {
  installExitHooks();
  const fd = openSync(logFile, 'a');
  const cp = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  live.add(cp);
  cp.once('exit', () => live.delete(cp));
  cp.once('error', () => live.delete(cp));
  return cp;
}

export function tailFile(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

// ---------------------------------------------------------------------------
// Binaries

let binariesPromise: Promise<{ binDir: string; crdsDir: string }> | undefined;

/**
 * Runs build.sh (fast no-op when the cache is warm) and returns the cache paths.
 * The build's output goes to buildLogPath(); on failure the error carries its tail.
 */
export function ensureBinaries(): Promise<{ binDir: string; crdsDir: string }> {
  binariesPromise ??= runBuild().catch((err: unknown) => {
    binariesPromise = undefined;
    throw err;
  });
  return binariesPromise;
}

async function runBuild(): Promise<{ binDir: string; crdsDir: string }> {
  const logFile = buildLogPath();
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'w' });
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  installExitHooks();
  const cp = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  live.add(cp);
  let stdout = '';
  cp.stdout!.on('data', (b: Buffer) => {
    stdout += b.toString();
    log.write(b);
  });
  cp.stderr!.pipe(log, { end: false });
  // A cold build takes many minutes: say so instead of hanging silently.
  const notice = setTimeout(() => {
    process.stderr.write(`[controlplane] building kube-apiserver/etcd/MCM (first run can take 10-25 min); log: ${logFile}\n`);
  }, 3000);
  const code = await new Promise<number | null>((resolve, reject) => {
    cp.once('error', reject);
    cp.once('close', (c) => resolve(c));
  });
  clearTimeout(notice);
  live.delete(cp);
  await new Promise<void>((resolve) => log.end(() => resolve()));
  if (code !== 0) {
    throw new Error(`build.sh failed (exit ${code}); log ${logFile}:\n${tailFile(logFile, 30)}`);
  }
  const dir = stdout.trim().split('\n').pop()?.trim() ?? '';
  const binDir = path.join(dir, 'bin');
  const crdsDir = path.join(dir, 'crds');
  for (const f of ['kube-apiserver', 'etcd', 'machine-controller-manager']) {
    if (!existsSync(path.join(binDir, f))) throw new Error(`build.sh reported ${dir} but ${f} is missing there`);
  }
  return { binDir, crdsDir };
}

// ---------------------------------------------------------------------------
// Helpers: ports, certificates, polling, kubectl

/** Distinct free ports on 127.0.0.1 (all held open at once so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl not runnable (${r.error.message}); it is needed to make the test PKI`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

interface Pki {
  dir: string;
  caCrt: string;
  serverCrt: string;
  serverKey: string;
  adminCrt: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

/** One ECDSA P-256 CA (verifies clients, signs the serving cert), the admin client cert, and an SA key pair. ~0.1 s. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'openssl.cnf'), OPENSSL_CNF);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '7'];
  const req = ['req', '-x509', '-new', '-config', 'openssl.cnf'];
  const signedByCa = ['-CA', 'ca.crt', '-CAkey', 'ca.key'];
  openssl([...req, '-extensions', 'ca_ext', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=mcm-e2e-ca'], dir);
  openssl([...req, '-extensions', 'server_ext', ...ec, ...signedByCa, '-keyout', 'apiserver.key', '-out', 'apiserver.crt', '-subj', '/CN=kube-apiserver'], dir);
  openssl([...req, '-extensions', 'client_ext', ...ec, ...signedByCa, '-keyout', 'admin.key', '-out', 'admin.crt', '-subj', '/O=system:masters/CN=mcm-e2e-admin'], dir);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCrt: p('ca.crt'),
    serverCrt: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCrt: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function httpGet(url: string, tls?: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Poll until check() is true; fail early if any of `procs` exits. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  procs: Array<{ cp: ChildProcess; name: string; log: string }>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    for (const p of procs) {
      if (!isRunning(p.cp)) {
        throw new Error(`${p.name} exited (code ${p.cp.exitCode}, signal ${p.cp.signalCode}) while waiting for ${what}; ${p.log}:\n${tailFile(p.log)}`);
      }
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const logs = procs.map((p) => `--- ${p.log}:\n${tailFile(p.log, 20)}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}\n${logs}`);
    }
    await sleep(200);
  }
}

/** Run kubectl against a kubeconfig; resolves with stdout, rejects with stderr. */
export function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const cp = spawn(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cp.stdout.on('data', (b: Buffer) => (out += b.toString()));
    cp.stderr.on('data', (b: Buffer) => (err += b.toString()));
    cp.once('error', reject);
    cp.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')} failed (exit ${code}): ${err.trim()}`)),
    );
    cp.stdin.end(input ?? '');
  });
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: mcm-e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(pki.caCrt)}
users:
- name: mcm-e2e-admin
  user:
    client-certificate-data: ${b64(pki.adminCrt)}
    client-key-data: ${b64(pki.adminKey)}
contexts:
- name: mcm-e2e
  context:
    cluster: mcm-e2e
    user: mcm-e2e-admin
    namespace: default
current-context: mcm-e2e
`;
}

// ---------------------------------------------------------------------------
// The control plane

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const { binDir, crdsDir } = await ensureBinaries();
  installExitHooks();
  const ownDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(path.join(os.tmpdir(), 'mcm-e2e-cp-')));
  mkdirSync(workDir, { recursive: true });
  const keep = opts.keep ?? process.env.MCM_E2E_KEEP === '1';
  if (ownDir && !keep) tempDirs.add(workDir);
  const etcdData = path.join(workDir, 'etcd-data');
  rmSync(etcdData, { recursive: true, force: true });

  const started: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // apiserver first (it holds etcd connections), then etcd.
    for (const cp of [...started].reverse()) await terminate(cp);
    if (!keep) {
      await rm(ownDir ? workDir : etcdData, { recursive: true, force: true });
      tempDirs.delete(workDir);
    }
  };

  try {
    const pki = makePki(path.join(workDir, 'pki'));
    const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const apiserverUrl = `https://127.0.0.1:${apiPort}`;

    const etcdLog = path.join(workDir, 'etcd.log');
    const etcd = startLogged(
      path.join(binDir, 'etcd'),
      [
        '--name=e2e',
        `--data-dir=${etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=e2e=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      etcdLog,
    );
    started.push(etcd);
    const etcdProc = { cp: etcd, name: 'etcd', log: etcdLog };
    await waitFor(
      'etcd /health',
      async () => {
        const r = await httpGet(`${etcdUrl}/health`);
        return r.status === 200 && r.body.includes('"health":"true"');
      },
      30_000,
      [etcdProc],
    );

    const apiLog = path.join(workDir, 'kube-apiserver.log');
    const apiserver = startLogged(
      path.join(binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1', // no default route needed
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki.dir}`,
        `--tls-cert-file=${pki.serverCrt}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCrt}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        `--service-account-issuer=${apiserverUrl}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--disable-admission-plugins=ServiceAccount',
        '--endpoint-reconciler-type=none',
        '--allow-privileged=true',
        '--profiling=false',
      ],
      apiLog,
    );
    started.push(apiserver);
    const apiProc = { cp: apiserver, name: 'kube-apiserver', log: apiLog };

    const tls: https.RequestOptions = {
      ca: readFileSync(pki.caCrt),
      cert: readFileSync(pki.adminCrt),
      key: readFileSync(pki.adminKey),
    };
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await httpGet(`${apiserverUrl}/readyz`, tls)).status === 200,
      opts.readyTimeoutMs ?? 120_000,
      [etcdProc, apiProc],
    );

    const kubeconfig = path.join(workDir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigYaml(apiserverUrl, pki), { mode: 0o600 });

    await kubectl(kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', crdsDir]);
    await kubectl(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', '-f', crdsDir]);
    // `default` is normally created by the apiserver itself; make sure anyway.
    await kubectl(kubeconfig, ['apply', '--server-side', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n');

    return { kubeconfig, apiserverUrl, workDir, binDir, crdsDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Read a log file of a control plane (e.g. `await readLog(cp, 'kube-apiserver')` in a failing test). */
export async function readLog(cp: Pick<ControlPlane, 'workDir'>, name: 'etcd' | 'kube-apiserver'): Promise<string> {
  return readFile(path.join(cp.workDir, `${name}.log`), 'utf8').catch(() => '');
}
