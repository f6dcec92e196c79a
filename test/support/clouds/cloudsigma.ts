// CloudSigma API 2.0 as the tests know it (see descriptor.ts).
import type { CloudTestDescriptor } from './descriptor.js';

export const CLOUDSIGMA_ACCOUNT = {
  location: 'zrh',
  /** The fake's default users (test/fakes/cloudsigma/identity.ts DEFAULT_USERS). */
  alice: { email: 'alice@example.com', password: 'alice-password-1' },
  bob: { email: 'bob@example.com', password: 'bob-password-2' },
  /** The library drive every fake has ("Ubuntu 24.04", 10 GiB). */
  libraryDrive: 'c7105ec8-5d60-43a7-a11b-18dcfc1a4433',
};

const API = String.raw`^/api/2\.0`;
const ID = '[0-9a-fA-F-]{36}';

export const CLOUDSIGMA_TEST: CloudTestDescriptor = {
  cloud: 'cloudsigma',
  provider: 'CloudSigma',
  specFile: 'specs/cloudsigma.yaml',
  // src/providers/cloudsigma/markers.ts (server meta).
  markers: { machine: 'kubernetes.io/machine', machineClass: 'kubernetes.io/machineclass', cluster: 'mcm-grpc-driver.io/cluster' },
  routes: {
    create: { method: 'POST', path: new RegExp(`${API}/servers/$`) },
    // The driver finds servers by listing servers/detail/ (meta is only in the detailed listing).
    lookup: { method: 'GET', path: new RegExp(`${API}/servers/detail/$`) },
    get: { method: 'GET', path: new RegExp(`${API}/servers/${ID}/$`) },
    delete: { method: 'DELETE', path: new RegExp(`${API}/servers/${ID}/$`) },
    list: { method: 'GET', path: new RegExp(`${API}/servers/(detail/)?$`) },
    any: { path: new RegExp(`${API}/(servers|drives)/`) },
  },
  // cloudsigma-docs errors.rst: a JSON array of {error_type, error_message, error_point}.
  errorBody200: [{ error_type: 'backend', error_message: 'service temporarily unavailable', error_point: null }],
};
