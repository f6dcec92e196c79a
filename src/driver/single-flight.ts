/**
 * Concurrent calls with the same key share one execution. The shared work gets
 * its own AbortSignal that fires only once every caller has gone away, so one
 * impatient caller does not cancel work the others still wait for, and work
 * nobody waits for any more stops.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Flight<T>>();

  async run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let flight = this.inFlight.get(key);
    if (!flight) {
      const controller = new AbortController();
      const promise = work(controller.signal).finally(() => this.inFlight.delete(key));
      // Callers attach their own handlers; this one only keeps a rejection nobody waits for any more from being "unhandled".
      promise.catch(() => undefined);
      flight = { promise, controller, waiters: 0 };
      this.inFlight.set(key, flight);
    }
    return this.join(flight, signal);
  }

  get size(): number {
    return this.inFlight.size;
  }

  private join(flight: Flight<T>, signal: AbortSignal): Promise<T> {
    flight.waiters += 1;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        flight.waiters -= 1;
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (flight.waiters === 1) {
          // The last caller is leaving: stop the work and hand this caller the
          // work's own answer, which says how far it got (e.g. lastKnownState).
          flight.controller.abort(signal.reason);
          return;
        }
        leave();
        reject(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => {
          leave();
          resolve(v);
        },
        (e: unknown) => {
          leave();
          reject(e);
        },
      );
    });
  }
}

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}
