// The per-cloud test descriptors (descriptor.ts). VPSie's joins when its fake moves onto test/fakes/core.
export * from './descriptor.js';
export { CLOUDSIGMA_ACCOUNT, CLOUDSIGMA_TEST } from './cloudsigma.js';
export { STACKIT_ACCOUNT, STACKIT_TEST } from './stackit.js';
