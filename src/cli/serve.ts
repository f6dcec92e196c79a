import { MachineDriver } from '../driver/machine-driver.js';
import { setExtraCaFiles, trustedCas } from '../http/trusted-cas.js';
import { logger, setLogLevel } from '../observability/logger.js';
import { defaultProviders } from '../providers/index.js';
import { startSidecar } from '../server/sidecar.js';
import { parseDuration } from '../support/duration.js';

export interface ServeFlags {
  listen: string;
  httpListen: string;
  logLevel: string;
  shutdownGrace: string;
  createTimeout: string;
  deleteTimeout: string;
  pollInterval: string;
  httpTimeout: string;
  httpRetries: string;
  maxCloudResponse: string;
  caFile: string;
}

/** `mcm-driver serve`: the sidecar, until SIGTERM/SIGINT. */
export async function serve(flags: ServeFlags): Promise<void> {
  setLogLevel(flags.logLevel);
  setExtraCaFiles(flags.caFile.split(',').map((f) => f.trim()).filter(Boolean));
  trustedCas(); // an unreadable CA file stops the start with its name, not the first cloud call
  const driver = new MachineDriver(
    defaultProviders({
      httpTimeoutMs: parseDuration(flags.httpTimeout),
      retry: { limit: Number(flags.httpRetries) },
      maxResponseBytes: Number(flags.maxCloudResponse) * 1024 * 1024,
    }),
    {
      createTimeoutMs: parseDuration(flags.createTimeout),
      deleteTimeoutMs: parseDuration(flags.deleteTimeout),
      pollIntervalMs: parseDuration(flags.pollInterval),
    },
  );
  const sidecar = await startSidecar({
    listen: flags.listen,
    httpListen: flags.httpListen,
    driver,
    shutdownGraceMs: parseDuration(flags.shutdownGrace),
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
