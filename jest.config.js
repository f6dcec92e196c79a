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

export default {
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
