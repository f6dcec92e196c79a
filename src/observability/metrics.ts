import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** All metrics carry the `mcm_driver_` prefix; labels never hold secrets or machine names. */
export const registry = new Registry();
// prom-client samples event-loop lag with a timer every eventLoopMonitoringPrecision ms (default 10): 100
// wake-ups a second in a sidecar that is otherwise idle between MCM's syncs. 100 ms still shows a stalled loop.
export const EVENT_LOOP_MONITORING_MS = 100;
collectDefaultMetrics({ register: registry, prefix: 'mcm_driver_', eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_MS });

const rpcBuckets = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export const rpcRequests = new Counter({
  name: 'mcm_driver_rpc_requests_total',
  help: 'Driver RPCs answered, by method, provider and MCM code',
  labelNames: ['method', 'provider', 'code'] as const,
  registers: [registry],
});

export const rpcDuration = new Histogram({
  name: 'mcm_driver_rpc_duration_seconds',
  help: 'Driver RPC duration, by method and provider',
  labelNames: ['method', 'provider'] as const,
  buckets: rpcBuckets,
  registers: [registry],
});

export const rpcInFlight = new Gauge({
  name: 'mcm_driver_rpc_in_flight',
  help: 'Driver RPCs being served right now, by method',
  labelNames: ['method'] as const,
  registers: [registry],
});

export const cloudRequests = new Counter({
  name: 'mcm_driver_cloud_requests_total',
  help: 'Cloud API requests, by cloud, operation and HTTP status (or timeout/network)',
  labelNames: ['cloud', 'operation', 'status'] as const,
  registers: [registry],
});

export const cloudRequestDuration = new Histogram({
  name: 'mcm_driver_cloud_request_duration_seconds',
  help: 'Cloud API request duration including retries, by cloud and operation',
  labelNames: ['cloud', 'operation'] as const,
  buckets: rpcBuckets,
  registers: [registry],
});

export const cloudRetries = new Counter({
  name: 'mcm_driver_cloud_retries_total',
  help: 'Cloud API request retries, by cloud and operation',
  labelNames: ['cloud', 'operation'] as const,
  registers: [registry],
});

export const tokenRefreshes = new Counter({
  name: 'mcm_driver_token_refreshes_total',
  help: 'Access tokens fetched from a token endpoint, by cloud and outcome',
  labelNames: ['cloud', 'outcome'] as const,
  registers: [registry],
});

export const vmCreateDuration = new Histogram({
  name: 'mcm_driver_vm_create_duration_seconds',
  help: 'Time from the create request until the VM runs, by provider',
  labelNames: ['provider'] as const,
  buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200],
  registers: [registry],
});
