// What /proc says about a process (Linux): CPU seconds and memory of the sidecar and the fake,
// plus the facts about the machine that every result depends on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`, 100 on practically every Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far (10 ms resolution). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * Seconds the main thread (the event loop) has spent waiting for a CPU while runnable
 * (/proc/<pid>/schedstat, second field): how much other processes held it back.
 */
export function runqueueWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

export interface Memory {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size since the process started (VmHWM), MiB. */
  hwmMiB: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/**
 * Where a process's resident memory is, from /proc/<pid>/status: anonymous pages (V8 heap, malloc, thread
 * stacks), file-backed pages (the node binary and shared libraries) and shared memory.
 */
export function rssSplit(pid: number): { anonMiB: number; fileMiB: number; shmemMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { anonMiB: kib('RssAnon') / 1024, fileMiB: kib('RssFile') / 1024, shmemMiB: kib('RssShmem') / 1024 };
}

/** Samples VmRSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(memory(pid).rssMiB);
    } catch {
      // The process is gone.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  go: string;
  loadAtStart: number[];
}

export function machineFacts(): MachineFacts {
  let go = 'not found';
  try {
    go = execFileSync('go', ['version'], { encoding: 'utf8' }).trim().replace(/^go version /, '');
  } catch {
    // No Go toolchain: the bridge section is skipped.
  }
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    kernel: release(),
    node: process.version,
    go,
    loadAtStart: loadavg(),
  };
}
