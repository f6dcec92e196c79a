import winston from 'winston';
import { logger } from '../../src/observability/logger.js';

// Tests assert on log lines they capture themselves; the console copy would only bury jest's report.
for (const t of logger.transports) if (t instanceof winston.transports.Console) t.silent = true;
