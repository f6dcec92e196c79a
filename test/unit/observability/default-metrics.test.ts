import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EVENT_LOOP_MONITORING_MS, registry } from '../../../src/observability/metrics.js';

describe('prom-client default metrics at a coarse event-loop sampling', () => {
  test('the process metrics and the event-loop lag are still exported', async () => {
    const text = await registry.metrics();
    for (const name of ['mcm_driver_process_resident_memory_bytes', 'mcm_driver_nodejs_eventloop_lag_seconds', 'mcm_driver_nodejs_heap_size_used_bytes']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  test('the lag sampler wakes the loop every 100 ms, not every 10 (an idle sidecar sleeps)', () => {
    expect(EVENT_LOOP_MONITORING_MS).toBe(100);
    // What prom-client hands the option to: a resolution it accepts.
    expect(() => monitorEventLoopDelay({ resolution: EVENT_LOOP_MONITORING_MS }).disable()).not.toThrow();
  });
});
