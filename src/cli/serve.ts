import { MachineDriver } from '../driver/machine-driver.js';
import { setExtraCaFiles, trustedCas } from '../http/trusted-cas.js';
import { logger, setLogLevel } from '../observability/logger.js';
import { defaultProviders } from '../providers/index.js';
import { startSidecar } from '../server/sidecar.js';
import { checkDurationEnv, checkListen } from './serve-options.js';

export interface ServeFlags {
  listen: string;
  allowNonLoopbackListen: boolean;
  httpListen: string;
  logLevel: string;
  /** Durations in milliseconds, counts and sizes as numbers: commander parsed and checked them (serve-options.ts). */
  shutdownGrace: number;
  createTimeout: number;
  deleteTimeout: number;
  pollInterval: number;
  stateDir: string;
  /** Unset: each cloud's own discovery window. */
  discoveryWindow?: number;
  httpTimeout: number;
  httpRetries: number;
  maxCloudResponse: number;
  caFile: string;
}

/** `mcm-driver serve`: the sidecar, until SIGTERM/SIGINT. */
export async function serve(flags: ServeFlags): Promise<void> {
  checkListen(flags.listen, flags.allowNonLoopbackListen);
  // The VPSie adapter is loaded when a VPSie class arrives; its environment is checked at start only when some is set.
  if (Object.keys(process.env).some((k) => k.startsWith('VPSIE_'))) checkDurationEnv((await import('../providers/vpsie/vpsie-provider.js')).VPSIE_DURATION_ENV);
  setLogLevel(flags.logLevel);
  setExtraCaFiles(flags.caFile.split(',').map((f) => f.trim()).filter(Boolean));
  trustedCas(); // an unreadable CA file stops the start with its name, not the first cloud call
  const driver = new MachineDriver(
    defaultProviders({
      httpTimeoutMs: flags.httpTimeout,
      retry: { limit: flags.httpRetries },
      maxResponseBytes: flags.maxCloudResponse * 1024 * 1024,
    }),
    {
      createTimeoutMs: flags.createTimeout,
      deleteTimeoutMs: flags.deleteTimeout,
      pollIntervalMs: flags.pollInterval,
      discoveryWindowMs: flags.discoveryWindow,
      stateDir: flags.stateDir || undefined,
    },
  );
  const sidecar = await startSidecar({
    listen: flags.listen,
    httpListen: flags.httpListen,
    driver,
    shutdownGraceMs: flags.shutdownGrace,
  });
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection (a bug; the sidecar keeps serving)', { error: reason instanceof Error ? reason.message : String(reason) });
  });
  const stop = (signal: string) => {
    logger.info('signal received', { signal });
    sidecar.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
