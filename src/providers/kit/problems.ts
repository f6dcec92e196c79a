import { InvalidInputError } from '../../driver/machine-error.js';

/** Runs a check that throws InvalidInputError and keeps its problems, so every problem is reported at once; true when it passed. */
export function collect(problems: string[], check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (err instanceof InvalidInputError) {
      problems.push(...err.problems);
      return false;
    }
    throw err;
  }
}
