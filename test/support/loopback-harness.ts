// The one integration harness: a cloud's stateful fake, Prism (proxy --errors) in front of it,
// the sidecar's gRPC server with a MachineDriver for that cloud, and the gRPC client the bridge's
// calls look like, all on loopback; log lines captured. Each cloud's harness
// (stackit-harness.ts, cloudsigma-harness.ts) says only how to start its fake and build its driver.
//
// A test that needs other driver settings (timeouts, retry, provider options) calls use(): the
// sidecar is rebuilt in-process against the same fake and Prism, which are started once per file.
// A test that needs a slower cloud sets the fake's knobs (setTiming, setListingLag, faults).
import type { MachineDriver, DriverTimings } from '../../src/driver/machine-driver.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { DriverServiceClient } from '../../src/server/driver-client.js';
import { startSidecar, type Sidecar } from '../../src/server/sidecar.js';
import { LogCapture } from './log-capture.js';
import { startPrismProxy, type PrismProcess } from './prism.js';

/** What a test may change about the driver under test. */
export interface DriverSettings<P = object> {
  timings?: Partial<DriverTimings>;
  retry?: Partial<RetryPolicy>;
  httpTimeoutMs?: number;
  /** Cloud-specific adapter options (endpoints, page size); every wait is the driver's (timings). */
  provider?: Partial<P>;
}

export interface LoopbackCloud<F, P> {
  /** The spec Prism validates against. */
  spec: string;
  /** The fake's URL Prism proxies to. */
  upstream(fake: F): string;
  /** The driver for this cloud, its API endpoint being `apiBase` (Prism's URL or the fake's). */
  driver(fake: F, apiBase: string, settings: DriverSettings<P>): MachineDriver;
}

/** Driver timings of every loopback test unless it asks otherwise: fast polls, generous timeouts. */
export const LOOPBACK_TIMINGS: Partial<DriverTimings> = { pollIntervalMs: 50, createTimeoutMs: 10_000, deleteTimeoutMs: 10_000 };
/** Retry backoff of every loopback test unless it asks otherwise: milliseconds, not seconds. */
export const LOOPBACK_RETRY: Partial<RetryPolicy> = { baseDelayMs: 5, maxDelayMs: 20 };

export class LoopbackHarness<F extends { close(): Promise<void> }, P = object> {
  get logs(): string[] {
    return this.capture.lines;
  }
  get sidecar(): Sidecar {
    return this.current.sidecar;
  }
  get client(): DriverServiceClient {
    return this.current.client;
  }

  private readonly capture = new LogCapture();
  private current: { sidecar: Sidecar; client: DriverServiceClient; custom: boolean };

  protected constructor(
    readonly fake: F,
    readonly prism: PrismProcess | undefined,
    private readonly cloud: LoopbackCloud<F, P>,
    private readonly defaults: DriverSettings<P>,
    first: { sidecar: Sidecar; client: DriverServiceClient },
  ) {
    this.current = { ...first, custom: false };
  }

  protected static async boot<F extends { close(): Promise<void> }, P>(
    cloud: LoopbackCloud<F, P>,
    fake: F,
    options: { prism?: boolean } & DriverSettings<P>,
  ): Promise<{ fake: F; prism: PrismProcess | undefined; cloud: LoopbackCloud<F, P>; defaults: DriverSettings<P>; first: { sidecar: Sidecar; client: DriverServiceClient } }> {
    const prism = options.prism === false ? undefined : await startPrismProxy(cloud.spec, cloud.upstream(fake));
    const defaults: DriverSettings<P> = { timings: options.timings, retry: options.retry, httpTimeoutMs: options.httpTimeoutMs, provider: options.provider };
    const first = await serve(cloud, fake, prism, defaults);
    return { fake, prism, cloud, defaults, first };
  }

  /** The API base the driver talks to: Prism when it runs, else the fake itself. */
  get apiBase(): string {
    return this.prism?.url ?? this.cloud.upstream(this.fake);
  }

  /** From now on the sidecar runs a driver with these settings (over the harness's own), against the same fake and Prism. */
  async use(settings: DriverSettings<P>): Promise<void> {
    const merged: DriverSettings<P> = {
      timings: { ...this.defaults.timings, ...settings.timings },
      retry: { ...this.defaults.retry, ...settings.retry },
      httpTimeoutMs: settings.httpTimeoutMs ?? this.defaults.httpTimeoutMs,
      provider: { ...this.defaults.provider, ...settings.provider } as Partial<P>,
    };
    await this.swap(merged, true);
  }

  /** Back to the harness's own driver settings (a no-op unless use() changed them). */
  async useDefaults(): Promise<void> {
    if (this.current.custom) await this.swap(this.defaults, false);
  }

  private async swap(settings: DriverSettings<P>, custom: boolean): Promise<void> {
    const next = await serve(this.cloud, this.fake, this.prism, settings);
    const old = this.current;
    this.current = { ...next, custom };
    old.client.close();
    await old.sidecar.shutdown();
  }

  async close(): Promise<void> {
    this.capture.stop();
    this.current.client.close();
    await this.current.sidecar.shutdown();
    await this.prism?.close();
    await this.fake.close();
  }
}

async function serve<F, P>(cloud: LoopbackCloud<F, P>, fake: F, prism: PrismProcess | undefined, settings: DriverSettings<P>) {
  const driver = cloud.driver(fake, prism?.url ?? cloud.upstream(fake), {
    ...settings,
    timings: { ...LOOPBACK_TIMINGS, ...settings.timings },
    retry: { ...LOOPBACK_RETRY, ...settings.retry },
    httpTimeoutMs: settings.httpTimeoutMs ?? 5_000,
  });
  const sidecar = await startSidecar({ listen: '127.0.0.1:0', httpListen: '127.0.0.1:0', driver, shutdownGraceMs: 2_000 });
  return { sidecar, client: new DriverServiceClient(sidecar.grpcTarget) };
}
