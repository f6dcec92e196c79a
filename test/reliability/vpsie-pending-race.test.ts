import { MachineCode } from '../../src/driver/codes.js';
import { outcome } from '../support/cloud-kits.js';
import { VpsieHarness, type Status } from '../support/vpsie-harness.js';

/**
 * A VPSie VM moves from the pending view to the VM list. A lookup that read the list just before
 * the move and the pending view just after it saw the VM in neither: GetMachineStatus answered
 * NotFound for a VM that existed throughout (found under load by the full suite; a DeleteMachine
 * without providerID would have ended "nothing to delete" and removed the boot script while the VM
 * came up). The pending view's answer is held here until the VM is listed, which makes the race certain.
 */
test('a VM listed between the list read and the pending-view read is found, never NotFound', async () => {
  const h = await VpsieHarness.start({ prism: false, fake: { pendingAfterMs: 0, visibleAfterMs: 2_500, runningAfterMs: 50 } });
  try {
    const name = 'alpha-worker-z1-race';
    const first = await outcome(h.client.call('CreateMachine', h.request(name)));
    expect(first.code).toBe(MachineCode.Unavailable); // accepted without an id, only pending at once
    // The pending view is read only after the VM has left it for the list (listed at 2.5 s).
    h.fake.injectFault({ method: 'GET', path: /^\/apps\/v2\/vm\/pending$/, delayMs: 3_000 });
    const status = await outcome(h.client.call<Status>('GetMachineStatus', h.request(name)));
    expect(status.error?.details ?? '').toBe('');
    expect(status.value?.providerId).toBe(`vpsie://${h.liveVms()[0]!.identifier}`);
    expect(h.createRequests()).toHaveLength(1);
  } finally {
    await h.close();
  }
}, 30_000);
