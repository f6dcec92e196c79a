import { isDriverCallError, type DriverCallError } from '../../src/server/driver-client.js';

/** Awaits a driver call that must fail and returns its error (code, message, attached response). */
export async function callError(p: Promise<unknown>): Promise<DriverCallError> {
  try {
    await p;
  } catch (err) {
    if (isDriverCallError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
