import { formatProviderId, UUID } from './provider-id.js';

/**
 * What a failed CreateMachine left behind because removing it failed too.
 * It travels to MCM as the call's lastKnownState, and MCM hands it back on
 * the next call, which finishes the job:
 *
 *   {"providerId": "cloudsigma://<server>",        (only when a server was left)
 *    "state": "stopped",
 *    "cloudsigma": {"location": "zrh", "step": "start server",
 *                   "leftServers": ["<uuid>"], "leftDrives": ["<uuid>"]}}
 *
 * providerId/state have the shape the provider-neutral driver uses for its
 * own lastKnownState. The next call does not depend on this record alone: a
 * left server carries the Machine's markers (the driver adopts and starts
 * it) and a left boot drive carries the Machine's boot-drive name (the next
 * create adopts or removes it); the record also covers a drive whose name
 * the API did not keep.
 */
export interface Leftovers {
  location: string;
  step: string;
  leftServers: string[];
  leftDrives: string[];
}

export function formatLeftovers(l: Leftovers): string {
  const server = l.leftServers[0];
  return JSON.stringify({
    ...(server ? { providerId: formatProviderId(server), state: 'stopped' } : {}),
    cloudsigma: { location: l.location, step: l.step, leftServers: l.leftServers, leftDrives: l.leftDrives },
  });
}

/** The drives and servers an earlier call left; anything unreadable is ignored. */
export function parseLeftovers(lastKnownState: string): { leftServers: string[]; leftDrives: string[] } {
  const none = { leftServers: [], leftDrives: [] };
  if (!lastKnownState) return none;
  let parsed: unknown;
  try {
    parsed = JSON.parse(lastKnownState);
  } catch {
    return none;
  }
  const cs = (parsed as { cloudsigma?: { leftServers?: unknown; leftDrives?: unknown } } | null)?.cloudsigma;
  const uuids = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && UUID.test(x)) : []);
  return { leftServers: uuids(cs?.leftServers), leftDrives: uuids(cs?.leftDrives) };
}

/** "server a with drive b", "drive b", for messages. */
export function describeLeftovers(l: Pick<Leftovers, 'leftServers' | 'leftDrives'>): string {
  const parts = [...l.leftServers.map((s) => `server ${s}`), ...l.leftDrives.map((d) => `drive ${d}`)];
  return parts.join(', ');
}
