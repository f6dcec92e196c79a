// Child processes of the local e2e environment: each one logs to its own file
// in the run directory, is recorded by pid (pids.json), and is stopped by pid:
// by stopAll() in the suite's teardown, by the exit/signal hooks if the test
// process ends early, and, if the test process was SIGKILLed, by the next run
// (reapStaleRuns), which kills a recorded pid only while its command line
// still names that run's directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tailFile } from '../controlplane/controlplane.js';

export interface Proc {
  name: string;
  pid: number;
  log: string;
  cp: ChildProcess;
  /** Resolves with the exit description once the process has exited. */
  exited: Promise<string>;
  running(): boolean;
}

export interface StartSpec {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Log file (default <runDir>/<name>.log); appended to, so a restart keeps the history. */
  log?: string;
}

const groups = new Set<ProcessGroup>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const g of groups) g.killAllSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const g of groups) g.killAllSync();
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

export class ProcessGroup {
  private readonly procs: Proc[] = [];
  private readonly foreign: Array<{ name: string; pid: number }> = [];
  private readonly pidFile: string;

  constructor(readonly runDir: string) {
    this.pidFile = path.join(runDir, 'pids.json');
    groups.add(this);
    installHooks();
  }

  start(spec: StartSpec): Proc {
    const log = spec.log ?? path.join(this.runDir, `${spec.name}.log`);
    const fd = openSync(log, 'a');
    const cp = spawn(spec.cmd, spec.args, {
      stdio: ['ignore', fd, fd],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    closeSync(fd);
    if (cp.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.cmd})`);
    const exited = new Promise<string>((resolve) => {
      cp.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
      cp.once('error', (err) => resolve(`spawn error ${err.message}`));
    });
    const proc: Proc = {
      name: spec.name,
      pid: cp.pid,
      log,
      cp,
      exited,
      running: () => cp.exitCode === null && cp.signalCode === null,
    };
    this.procs.push(proc);
    this.writePids();
    return proc;
  }

  list(): Proc[] {
    return [...this.procs];
  }

  /**
   * Records children of this process that someone else started for us (the
   * control plane's etcd and kube-apiserver): our own children (by parent
   * pid) whose command line names `dir`. Only for reapStaleRuns: they are
   * still stopped by whoever started them.
   */
  adoptChildren(dir: string): void {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) continue;
        const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        if (cmdline.includes(dir) && !this.procs.some((p) => p.pid === Number(d))) this.foreign.push({ name: path.basename(cmdline.split('\0')[0]!), pid: Number(d) });
      } catch {
        /* raced with exit */
      }
    }
    this.writePids();
  }

  /** SIGKILL one process (the sidecar kill scenario) and wait for it to be gone. */
  async kill(proc: Proc): Promise<void> {
    if (proc.running()) process.kill(proc.pid, 'SIGKILL');
    await proc.exited;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(proc: Proc, graceMs = 5_000): Promise<void> {
    if (!proc.running()) return;
    try {
      process.kill(proc.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      if (proc.running()) process.kill(proc.pid, 'SIGKILL');
    }, graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** Stops every process, newest first. */
  async stopAll(): Promise<void> {
    for (const p of [...this.procs].reverse()) await this.stop(p);
    groups.delete(this);
  }

  killAllSync(): void {
    for (const p of this.procs) {
      if (p.running()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  /** The last lines of every log, for a failing scenario. */
  tails(lines = 30, only?: (p: Proc) => boolean): string {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const p of this.procs) {
      if ((only && !only(p)) || seen.has(p.log)) continue;
      seen.add(p.log);
      out.push(`--- ${p.name} (${p.running() ? `pid ${p.pid}` : 'exited'}) ${p.log}:\n${tailFile(p.log, lines)}`);
    }
    return out.join('\n');
  }

  private writePids(): void {
    const procs = [...this.procs.map((p) => ({ name: p.name, pid: p.pid })), ...this.foreign];
    writeFileSync(this.pidFile, JSON.stringify({ owner: process.pid, procs }, null, 1));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills what a previous run, itself killed with SIGKILL, left behind: once
 * its test process is gone, the pids it recorded whose command line still
 * contains that run's directory (a recycled pid of an unrelated process never
 * does).
 */
export function reapStaleRuns(workRoot: string, currentRunDir: string): string[] {
  const reaped: string[] = [];
  if (!existsSync(workRoot)) return reaped;
  for (const entry of readdirSync(workRoot)) {
    const runDir = path.join(workRoot, entry);
    if (runDir === currentRunDir) continue;
    const pidFile = path.join(runDir, 'pids.json');
    if (!existsSync(pidFile)) continue;
    let recorded: { owner: number; procs: Array<{ name: string; pid: number }> };
    try {
      recorded = JSON.parse(readFileSync(pidFile, 'utf8'));
    } catch {
      continue;
    }
    // A run whose test process still lives is not stale (another suite running right now).
    if (!Array.isArray(recorded.procs) || isAlive(recorded.owner)) continue;
    for (const { name, pid } of recorded.procs) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // not running
      }
      if (!cmdline.includes(runDir)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        reaped.push(`${name} (pid ${pid})`);
      } catch {
        /* gone */
      }
    }
  }
  return reaped;
}
