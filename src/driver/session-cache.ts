import { createHash } from 'node:crypto';
import type { CloudProvider, CloudSession, MachineClassRef, SecretData, SessionPurpose } from './provider.js';

/** Distinct (class, Secret, purpose) sessions kept; an MCM serves a handful of classes, a rotated Secret adds one. */
export const DEFAULT_MAX_SESSIONS = 128;

/**
 * Reuses the session CloudProvider.open bound for the same MachineClass, the
 * same Secret and the same purpose: opening validates providerSpec and Secret
 * with ajv, decodes the Secret, hashes the credential and builds clients, and
 * all of that depends only on those bytes. The key is a hash of the class's
 * content (name, namespace, provider, providerSpec), every Secret key and
 * value, and the purpose, so a rotated Secret or an edited class opens a new
 * session on the very next call. Only successful opens are kept (a refused
 * class is checked again on its next call); concurrent opens of one key share
 * one. Least recently used sessions go first once `maxSize` are kept.
 *
 * Only for providers whose sessions hold no per-call state (index.ts says
 * which): VPSie's session carries the deadline of the call that opened it.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<CloudSession>>();

  constructor(private readonly maxSize = DEFAULT_MAX_SESSIONS) {}

  open(provider: CloudProvider, machineClass: MachineClassRef, secret: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    let key: string;
    try {
      key = sessionKey(provider.name, machineClass, secret, purpose);
    } catch {
      // A providerSpec too deep to serialise (hostile input): not kept, the provider says what is wrong with it.
      return provider.open(machineClass, secret, purpose);
    }
    const hit = this.sessions.get(key);
    if (hit) {
      this.sessions.delete(key);
      this.sessions.set(key, hit); // most recently used last
      return hit;
    }
    const opening = provider.open(machineClass, secret, purpose);
    this.sessions.set(key, opening);
    opening.catch(() => {
      if (this.sessions.get(key) === opening) this.sessions.delete(key);
    });
    while (this.sessions.size > this.maxSize) this.sessions.delete(this.sessions.keys().next().value!);
    return opening;
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** sha256 over everything open() reads: the class's content, each Secret key and value (length-prefixed, sorted by key), the purpose. */
export function sessionKey(provider: string, machineClass: MachineClassRef, secret: SecretData, purpose: SessionPurpose): string {
  const h = createHash('sha256');
  h.update(`${provider}\0${purpose}\0`);
  h.update(JSON.stringify([machineClass.name, machineClass.namespace, machineClass.provider, machineClass.providerSpec]) ?? '');
  for (const k of Object.keys(secret).sort()) {
    const v = secret[k]!;
    h.update(`\0${k.length}:${k}\0${v.length}:`);
    h.update(v);
  }
  return h.digest('base64');
}
