// ESM on purpose: `got` is ESM-only, so the project is "type": "module" and
// jest runs with Node's VM modules (`node --experimental-vm-modules`, see the
// npm scripts). ts-jest transpiles each file on its own (tsconfig has
// isolatedModules) without type-checking; `npm run typecheck` checks the
// whole program once, which is faster than checking per file.
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testEnvironment: 'node',
  setupFilesAfterEnv: ['<rootDir>/test/support/quiet-logs.ts'],
};

// The real-MCM end-to-end suite (test/e2e, `npm run test:e2e`) starts a
// kube-apiserver, MCM and the sidecar and takes minutes, so it is a project
// only when MCM_E2E=1 (set by test:e2e): `npm test` never runs it.
const e2e = { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e.ts'] };

// nock patches Node's http module for the whole worker process, beyond the
// test file that loaded it; `npm test` therefore runs the unit project (the
// only one using nock) in its own jest invocation, apart from the suites that
// talk to real loopback servers (test:loopback).
// The heavy reliability suites (the fault matrix per cloud, SIGKILL at each create step, 50 callers
// and SIGTERM under load, the canary matrix: 20-100 s each on 2 shared cores, 337 s together with the
// whole matrix): CI runs them as their own step (`npm run test:heavy` in .ci/run, RELIABILITY_FULL=1);
// `npm test` runs the other reliability suites, 5-20 s each.
// `fault-matrix.*`: every fault-matrix file, the per-cloud ones and any added later (the create-safety matrix).
const heavy = ['fault-matrix.*', 'crash-recovery', 'load-and-shutdown', 'secret-canary-matrix'];

export default {
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    // Orphan safety, secret hygiene, CloudSigma fidelity, VPSie's pending race (issue 6): seconds each.
    {
      ...common,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...heavy.map((name) => `/test/reliability/${name.replaceAll('.', '\\.').replace('*', '[^/]+')}\\.test\\.ts$`)],
    },
    // Fault matrix, crash recovery, concurrency and shutdown under load, canary matrix (issue 6).
    { ...common, displayName: 'reliability-heavy', testMatch: heavy.map((name) => `<rootDir>/test/reliability/${name}.test.ts`) },
    ...(process.env.MCM_E2E === '1' ? [e2e] : []),
  ],
};
