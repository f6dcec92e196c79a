// Preloaded (node --require) into the Node processes the local e2e environment
// starts: if the test runner dies without stopping them (SIGKILL), they are
// re-parented, notice it within a second, and exit.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
