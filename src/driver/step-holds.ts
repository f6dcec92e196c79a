/**
 * Steps before a VM's own create request (a boot drive clone, a boot script
 * add) whose request may have taken effect while what it makes is not
 * visible yet: until `until`, MachineDriver sends that step's request for the
 * Machine no second time (machine-driver.ts stepRequest). In memory only: a
 * step makes no VM, so a hold lost with the process costs at most one more
 * of what the step makes, which carries the Machine's name, and the next
 * create reuses one and removes the others (DeleteMachine removes them all).
 */
export interface StepHold {
  /** When the request was sent (ms since epoch). */
  at: number;
  /** Until when no second request of the step is sent (ms since epoch). */
  until: number;
}

/** Bounds the map: an entry expires with its window anyway. */
const MAX_HOLDS = 10_000;

export class StepHolds {
  private readonly holds = new Map<string, StepHold>();

  constructor(private readonly now: () => number = Date.now) {}

  get(machineKey: string, step: string): StepHold | undefined {
    const key = `${machineKey}\n${step}`;
    const hold = this.holds.get(key);
    if (!hold || hold.until > this.now()) return hold;
    this.holds.delete(key);
    return undefined;
  }

  set(machineKey: string, step: string, hold: StepHold): void {
    this.holds.set(`${machineKey}\n${step}`, hold);
    for (const key of this.holds.keys()) {
      if (this.holds.size <= MAX_HOLDS) break;
      this.holds.delete(key);
    }
  }

  clear(machineKey: string, step: string): void {
    this.holds.delete(`${machineKey}\n${step}`);
  }

  /** Every step hold of the Machine (its deletion ended them). */
  clearMachine(machineKey: string): void {
    for (const key of this.holds.keys()) if (key.startsWith(`${machineKey}\n`)) this.holds.delete(key);
  }
}
