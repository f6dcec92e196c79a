import { UUID } from './provider-id.js';

/**
 * The boot drive a failed CreateMachine kept for the next one. It travels to
 * MCM as the call's lastKnownState, and MCM hands it back on the next call:
 *
 *   {"cloudsigma": {"location": "zrh", "step": "create server", "leftDrives": ["<uuid>"]}}
 *
 * The next call does not depend on this record alone: the drive carries the
 * Machine's boot-drive name, and the next create finds it by that name; the
 * record covers a listing that does not show the drive yet. (A server is
 * never left here: one that exists carries the Machine's markers, and the
 * driver adopts it by them.)
 */
export interface Leftovers {
  location: string;
  step: string;
  leftDrives: string[];
}

export function formatLeftovers(l: Leftovers): string {
  return JSON.stringify({ cloudsigma: { location: l.location, step: l.step, leftDrives: l.leftDrives } });
}

/** The drives an earlier call kept; anything unreadable is ignored. */
export function parseLeftovers(lastKnownState: string): { leftDrives: string[] } {
  const none = { leftDrives: [] };
  if (!lastKnownState) return none;
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastKnownState);
  } catch {
    return none;
  }
  const cs = (parsed as { cloudsigma?: { leftDrives?: unknown } } | null)?.cloudsigma;
  const uuids = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && UUID.test(x)) : []);
  return { leftDrives: uuids(cs?.leftDrives) };
}
