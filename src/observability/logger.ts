import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';

/** Fields every log line of one RPC carries, so an operator can query by them. */
export interface RequestContext {
  requestId: string;
  method: string;
  provider?: string;
  machine?: string;
  machineClass?: string;
}

const requestContext = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return requestContext.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return requestContext.getStore();
}

const withRequestContext = winston.format((info) => {
  const ctx = requestContext.getStore();
  return ctx ? Object.assign(info, { ...ctx, ...info }) : info;
});

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(withRequestContext(), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}
