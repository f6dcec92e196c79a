import { Writable } from 'node:stream';
import winston from 'winston';
import { logger } from '../../src/observability/logger.js';

/** Every log line the sidecar writes while it is attached (debug included), for tests that look for secrets or fields. */
export class LogCapture {
  readonly lines: string[] = [];
  private readonly transport: winston.transport;

  constructor() {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.lines.push(chunk.toString());
        done();
      },
    });
    this.transport = new winston.transports.Stream({ stream: sink, level: 'debug' });
    logger.add(this.transport);
    logger.level = 'debug';
  }

  stop(): void {
    logger.remove(this.transport);
  }
}
