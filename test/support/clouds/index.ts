// The per-cloud test descriptors (descriptor.ts).
export * from './descriptor.js';
export { CLOUDSIGMA_ACCOUNT, CLOUDSIGMA_TEST } from './cloudsigma.js';
export { STACKIT_ACCOUNT, STACKIT_TEST } from './stackit.js';
export { VPSIE_ACCOUNT, VPSIE_TEST } from './vpsie.js';
