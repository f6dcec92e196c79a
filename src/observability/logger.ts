import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';
import { liveSecrets } from './live-secrets.js';

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

/**
 * The call's fields, where the line does not set its own. Written into the line in place: the spread of
 * context and line into a new object (the line's symbol keys included) cost a third of a log line.
 */
const withRequestContext = winston.format((info) => {
  const ctx = requestContext.getStore() as Record<string, unknown> | undefined;
  if (ctx) for (const key in ctx) if (!(key in info)) info[key] = ctx[key];
  return info;
});

/** Where winston keeps the serialised line a transport writes (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/**
 * Every line at every level leaves through this format, so no call site can
 * skip redaction: the serialised line (info[MESSAGE], what the transport
 * writes) is redacted against every live secret, JSON-escaped forms included.
 */
const redactLine = winston.format((info) => {
  const line = info[MESSAGE];
  if (typeof line === 'string') info[MESSAGE] = liveSecrets.redact(line);
  return info;
});

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(withRequestContext(), winston.format.timestamp(), winston.format.json(), redactLine()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

/**
 * winston filters by level only in the transport, after the logger's whole
 * format chain (context, timestamp, JSON, redaction) has run: a `debug` line
 * per cloud request cost that much at level info. Each level method and
 * `log` ask winston's own isLevelEnabled first, so a line whose level is off
 * costs a lookup.
 */
function skipDisabledLevels(target: winston.Logger): void {
  const methods = target as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const level of Object.keys(target.levels)) {
    const write = methods[level]!;
    methods[level] = function (this: unknown, ...args: unknown[]) {
      return target.isLevelEnabled(level) ? write.apply(target, args) : target;
    };
  }
  const log = methods['log']!;
  methods['log'] = function (this: unknown, ...args: unknown[]) {
    const [level] = args;
    const name = typeof level === 'string' ? level : (level as { level?: unknown } | undefined)?.level;
    return typeof name === 'string' && !target.isLevelEnabled(name) ? target : log.apply(target, args);
  };
}
skipDisabledLevels(logger);

export function setLogLevel(level: string): void {
  logger.level = level;
}
