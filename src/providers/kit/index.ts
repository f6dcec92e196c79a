// The provider kit: plumbing every cloud adapter shares, written once.
export { ClientCache } from './client-cache.js';
export { firstSet } from './endpoint.js';
export { collect } from './problems.js';
export { decodeSecret } from './secret.js';
