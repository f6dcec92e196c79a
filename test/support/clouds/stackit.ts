// STACKIT IaaS v2 as the tests know it (see descriptor.ts).
import type { CloudTestDescriptor } from './descriptor.js';

export const STACKIT_ACCOUNT = {
  projectId: '3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b',
  otherProjectId: '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a',
  region: 'eu01',
  /** A bearer token the fake accepts as it is (test/fakes/stackit StackitFakeOptions.staticTokens default). */
  staticToken: 'fake-static-token',
};

const SERVERS = String.raw`^/v2/projects/[^/]+/regions/[^/]+/servers`;
const ID = '[0-9a-fA-F-]{36}';

export const STACKIT_TEST: CloudTestDescriptor = {
  cloud: 'stackit',
  provider: 'STACKIT',
  specFile: 'specs/stackit-iaas.yaml',
  // src/providers/stackit/markers.ts; the first two are the keys STACKIT's own Go provider sets.
  markers: { machine: 'kubernetes.io/machine', machineClass: 'kubernetes.io/machineclass', cluster: 'mcm-grpc-driver.io/cluster' },
  routes: {
    create: { method: 'POST', path: new RegExp(`${SERVERS}/?$`) },
    // The lookup and the listing are the same request: GET .../servers?label_selector=...
    lookup: { method: 'GET', path: new RegExp(`${SERVERS}/?$`) },
    get: { method: 'GET', path: new RegExp(`${SERVERS}/${ID}$`) },
    delete: { method: 'DELETE', path: new RegExp(`${SERVERS}/${ID}$`) },
    list: { method: 'GET', path: new RegExp(`${SERVERS}/?$`) },
    any: { path: new RegExp(SERVERS) },
  },
  // The spec's Error schema: {code, msg}, both required.
  errorBody200: { code: 503, msg: 'service temporarily unavailable' },
};
