// One fake-server core for the cloud fakes: HTTP loop and fault queue (fake-server.ts), the fault
// shape and its presets (fault-spec.ts), lagging listings (listing-lag.ts).
export * from './fake-server.js';
export * from './fault-queue.js';
export * from './fault-spec.js';
export * from './listing-lag.js';
