import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../support/duration.js';

/**
 * Parsers of `serve`'s flags, run by commander when the sidecar starts: a bad
 * value ends the process with commander's "option '--x <v>' argument 'y' is
 * invalid" naming the flag, instead of every later call failing Internal.
 */
export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function nonNegativeIntegerArg(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a whole number of 0 or more`);
  return Number(value);
}

export function positiveNumberArg(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a number above 0`);
  return n;
}

/**
 * The gRPC API takes cloud credentials and deletes VMs, with no
 * authentication of its own: it is meant for the MCM bridge in the same pod,
 * over a unix socket or loopback. Anything else needs --allow-non-loopback-listen.
 */
export function isSidecarLocalAddress(listen: string): boolean {
  if (listen.startsWith('unix:')) return true;
  const host = /^\[?([^\]]*)\]?:\d+$/.exec(listen.trim())?.[1];
  if (host === undefined) return false;
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function checkListen(listen: string, allowNonLoopback: boolean): void {
  if (allowNonLoopback || isSidecarLocalAddress(listen)) return;
  throw new Error(
    `--listen ${listen} is neither a unix socket nor a loopback address: the gRPC API takes cloud credentials and deletes VMs without authenticating its caller. ` +
      'Use unix:///path/driver.sock or 127.0.0.1:PORT, or pass --allow-non-loopback-listen if something else protects that address.',
  );
}
