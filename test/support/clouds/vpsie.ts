// VPSie as the tests know it (see descriptor.ts).
import type { CloudTestDescriptor } from './descriptor.js';

export const VPSIE_ACCOUNT = {
  projectId: 4242,
  /** The fake's defaults (test/fakes/vpsie FAKE_TOKEN, FAKE_ACCOUNT_PASSWORD). */
  token: 'fake-vpsie-token',
  accountPassword: 'fake-account-password',
};

// The Terraform provider's VM path (the adapter's default); pending view and scripts are always under /apps/v2.
const API = String.raw`^/apps/v2`;

export const VPSIE_TEST: CloudTestDescriptor = {
  cloud: 'vpsie',
  provider: 'VPSie',
  specFile: 'specs/vpsie.yaml',
  // src/providers/vpsie/markers.ts: the hostname is the Machine name; one notes line
  // `mcm-grpc-driver: cluster=<ns> class=<class> machine=<name>`, and tags: these prefixes + the value.
  markers: { machine: 'mcm-machine:', machineClass: 'mcm-class:', cluster: 'mcm-cluster:' },
  routes: {
    // POST /vm answers no id [sdk: govpsie server.go CreateServer]: the VM is found by hostname in the list.
    create: { method: 'POST', path: new RegExp(`${API}/vm$`) },
    lookup: { method: 'GET', path: new RegExp(`${API}/vm$`) },
    get: { method: 'GET', path: new RegExp(`${API}/vm/(?!pending$)[^/]+$`) },
    // DELETE /vm with vmIdentifier, password and deleteStatistic in the body (specs/vpsie.yaml).
    delete: { method: 'DELETE', path: new RegExp(`${API}/vm$`) },
    list: { method: 'GET', path: new RegExp(`${API}/vm$`) },
    any: { path: new RegExp(`${API}/vm`) },
  },
  // HTTP 200 with error: true, as VPSie sometimes answers [sdk: 2026 client fix 8fbed0d].
  errorBody200: { error: true, message: 'Service temporarily unavailable, try again later' },
};
