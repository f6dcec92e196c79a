import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MachineCode } from '../../driver/codes.js';
import { asMachineError, withLastKnownState } from '../../driver/errors.js';
import { InvalidInputError, MachineError } from '../../driver/machine-error.js';
import type { CloudProvider, CloudSession, MachineClassRef, MachineRef, SecretData, SessionPurpose, VmRecord } from '../../driver/provider.js';
import { assertValid, compileManageSchema, compileSchema } from '../../driver/validation.js';
import { CloudApiError } from '../../http/cloud-api-error.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import type { RetryPolicy } from '../../http/retry-policy.js';
import { logger } from '../../observability/logger.js';
import { parseDuration } from '../../support/duration.js';
import { createVmRequest, isGone, markersOf, ownMarkers, toVmRecord } from './mapping.js';
import { isMarkerValue, isValidHostname, markerTags, parseScriptMarkers, scriptMarkerLine, tagsCarry } from './markers.js';
import { parseProviderId } from './provider-id.js';
import providerSpecSchema from './provider-spec.schema.json' with { type: 'json' };
import { formatRecord, parseRecord, RequestLedger, type CreateRequestRecord } from './request-record.js';
import secretSchema from './secret.schema.json' with { type: 'json' };
import type { VmData, VpsieProviderSpec, VpsieScript, VpsieSecret } from './types.js';
import { cloudMessageOf, isQuotaMessage, VpsieBodyError, VpsieClient } from './vpsie-client.js';

/** Base URL including the version prefix (Terraform provider and 2024 client: /apps/v2 [sdk]). */
export const DEFAULT_API_ENDPOINT = 'https://api.vpsie.com/apps/v2';
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_DISCOVERY_CALL_BUDGET_MS = 45_000;
/** Terraform's VPSie provider polls every 5 s [sdk]. */
export const DEFAULT_DISCOVERY_POLL_INTERVAL_MS = 5_000;
const DEFAULT_DELETE_REASON = 'no longer needed';
const MIN_DISCOVERY_TIMEOUT_MS = 1_000;
const MAX_DISCOVERY_TIMEOUT_MS = 24 * 60 * 60_000;

export interface VpsieProviderOptions {
  /** Base URL with version prefix; env VPSIE_API_ENDPOINT; a Secret's `api-endpoint` wins. */
  apiEndpoint?: string;
  httpTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest VPSie response body read (the shared client's default otherwise). */
  maxResponseBytes?: number;
  /**
   * How long one call may wait for a VM to show up (after its create request,
   * or while it is pending) before answering Unavailable (MCM retries in 5 s).
   * Default 45 s, env VPSIE_DISCOVERY_CALL_BUDGET. Keep it plus --create-timeout
   * (4 min) below the bridge's call deadline (5 min).
   */
  discoveryCallBudgetMs?: number;
  /** How often a waiting call asks VPSie again (VM list + pending view). Default 5 s, env VPSIE_DISCOVERY_POLL_INTERVAL. */
  discoveryPollIntervalMs?: number;
  /** Discovery timeout when providerSpec.discovery.timeout is unset. Default 15 min, env VPSIE_DISCOVERY_TIMEOUT. */
  discoveryTimeoutMs?: number;
  /** For tests: the clock request records are measured with. */
  now?: () => number;
}

const validateSpec = compileSchema<VpsieProviderSpec>(providerSpecSchema);
/** Delete, status and list use the project, the delete reason and the discovery settings; nothing that shapes a new VM. */
const validateManageSpec = compileManageSchema<VpsieProviderSpec>(providerSpecSchema, ['projectId', 'deleteReason', 'discovery']);
const validateSecret = compileSchema<VpsieSecret>(secretSchema);

interface Timing {
  callBudgetMs: number;
  pollIntervalMs: number;
  discoveryTimeoutMs: number;
  recreateAfterTimeout: boolean;
  now: () => number;
}

/**
 * VPSie behind the CloudProvider interface. VPSie's create call is
 * asynchronous and answers no VM id [sdk]; the VM is found by hostname (=
 * Machine name), first in the pending view, later in the VM list [sdk]. See
 * VpsieSession.create for how that stays duplicate-free and bounded.
 */
export class VpsieProvider implements CloudProvider {
  readonly name = 'VPSie';
  readonly schemas = { providerSpec: providerSpecSchema, secret: secretSchema };
  private readonly httpClients = new Map<string, CloudHttpClient>();
  /** Create requests this process sent whose VM it has not seen listed yet. */
  private readonly ledger: RequestLedger;
  private readonly now: () => number;

  constructor(private readonly options: VpsieProviderOptions = {}) {
    this.now = options.now ?? Date.now;
    this.ledger = new RequestLedger(this.now);
  }

  async open(machineClass: MachineClassRef, secretData: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    const problems: string[] = [];
    const spec = machineClass.providerSpec;
    collect(problems, () => assertValid(purpose === 'create' ? validateSpec : validateManageSpec, spec, 'machineClass.providerSpec'));
    const secret = decodeSecret(secretData) as unknown as VpsieSecret;
    collect(problems, () => assertValid(validateSecret, secret, 'secret'));
    const timeoutText = (spec as VpsieProviderSpec | undefined)?.discovery?.timeout;
    let discoveryTimeoutMs = this.options.discoveryTimeoutMs ?? envDuration('VPSIE_DISCOVERY_TIMEOUT') ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
    if (typeof timeoutText === 'string' && /^[0-9]+(ms|s|m|h)$/.test(timeoutText)) {
      discoveryTimeoutMs = parseDuration(timeoutText);
      if (discoveryTimeoutMs < MIN_DISCOVERY_TIMEOUT_MS || discoveryTimeoutMs > MAX_DISCOVERY_TIMEOUT_MS) {
        problems.push('machineClass.providerSpec.discovery.timeout: must be between 1s and 24h');
      }
    }
    if (!machineClass.namespace) problems.push('machineClass.metadata.namespace: is required (it scopes VMs to this cluster)');
    else if (!isMarkerValue(machineClass.namespace)) problems.push('machineClass.metadata.namespace: must be a lower-case DNS name (it becomes a VM marker)');
    if (machineClass.name && !isMarkerValue(machineClass.name)) {
      problems.push('machineClass.metadata.name: must be a lower-case DNS name (it becomes a VM marker)');
    }
    if (problems.length > 0) throw new InvalidInputError(problems);

    const validSpec = spec as VpsieProviderSpec;
    const endpoint = secret['api-endpoint'] ?? this.options.apiEndpoint ?? process.env.VPSIE_API_ENDPOINT ?? DEFAULT_API_ENDPOINT;
    const timing: Timing = {
      callBudgetMs: this.options.discoveryCallBudgetMs ?? envDuration('VPSIE_DISCOVERY_CALL_BUDGET') ?? DEFAULT_DISCOVERY_CALL_BUDGET_MS,
      pollIntervalMs: this.options.discoveryPollIntervalMs ?? envDuration('VPSIE_DISCOVERY_POLL_INTERVAL') ?? DEFAULT_DISCOVERY_POLL_INTERVAL_MS,
      discoveryTimeoutMs,
      recreateAfterTimeout: validSpec.discovery?.recreateAfterTimeout ?? false,
      now: this.now,
    };
    return new VpsieSession(
      new VpsieClient(this.http(endpoint, secret['api-token'])),
      validSpec,
      machineClass,
      secretData['userData'],
      secret['account-password'],
      this.ledger,
      `${endpoint}|${String(validSpec.projectId)}|`,
      timing,
    );
  }

  /** VPSie block storage has no CSI driver this driver knows; no PV is VPSie's. */
  volumeId(): string | undefined {
    return undefined;
  }

  /** One HTTP client per endpoint and token: a rotated Secret gets a fresh one without a restart. */
  private http(endpoint: string, token: string): CloudHttpClient {
    const id = createHash('sha256').update(`${endpoint}\n${token}`).digest('hex');
    let client = this.httpClients.get(id);
    if (!client) {
      client = new CloudHttpClient({
        cloud: 'vpsie',
        baseUrl: endpoint,
        timeoutMs: this.options.httpTimeoutMs,
        retry: this.options.retry,
        maxResponseBytes: this.options.maxResponseBytes,
        // [sdk] every VPSie-authored client sends the token in this header.
        authorize: async () => ({ 'vpsie-auth': token, accept: 'application/json' }),
        errorMessage: cloudMessageOf,
        isQuota: (_status, message) => isQuotaMessage(message),
      });
      this.httpClients.set(id, client);
    }
    return client;
  }
}

/** What one lookup by hostname saw. */
interface HostnameView {
  /** Listed, not gone, hostname exact, notes markers name this cluster and this Machine. */
  mine: VmData[];
  /** Listed, not gone, hostname exact, but not ours (other cluster, other Machine, no markers). */
  foreign: VmData[];
  /** In the pending view with this hostname and our cluster and Machine tags. */
  pendingMine: boolean;
  /** In the pending view with this hostname, without our tags. */
  pendingOther: boolean;
  /** false when VPSie's `total` says the list left VMs out. */
  complete: boolean;
}

/** One call's binding to a MachineClass and Secret: `open` runs once per RPC, so the call budget starts here. */
class VpsieSession implements CloudSession {
  private readonly callDeadline: number;

  constructor(
    private readonly client: VpsieClient,
    private readonly spec: VpsieProviderSpec,
    private readonly machineClass: MachineClassRef,
    private readonly userData: Buffer | undefined,
    private readonly accountPassword: string,
    private readonly ledger: RequestLedger,
    private readonly ledgerPrefix: string,
    private readonly timing: Timing,
  ) {
    this.callDeadline = timing.now() + timing.callBudgetMs;
  }

  /**
   * The VM of exactly this identifier. A "not found" is checked against the VM
   * list before it is believed: answering "gone" for a VM that exists would end
   * DeleteMachine's wait and leak the VM (how VPSie answers an unknown id is
   * [unconfirmed]).
   */
  async get(providerId: string, signal: AbortSignal): Promise<VmRecord | undefined> {
    const identifier = parseProviderId(providerId);
    let vm = await this.client.getVm(identifier, signal);
    if (!vm) {
      const { vms } = await this.client.listVms(this.spec.projectId, signal);
      vm = vms.find((v) => v.identifier === identifier);
      if (vm) logger.warn('VPSie answered not found for a VM its list still shows; treating it as present', { providerId });
    }
    if (!vm || isGone(vm)) return undefined;
    if (vm.identifier !== identifier) throw new CloudApiError('vpsie', 'get vm', 'malformed', { status: 200 });
    return toVmRecord(vm);
  }

  /**
   * This cluster's VMs for the Machine: listed with hostname = Machine name and
   * notes markers naming this cluster and this Machine (any class: a Machine
   * may change class). A VM that is only in the pending view has no identifier
   * yet: the call waits for it to be listed (within its budget) and then
   * answers it, else Unavailable, never "none" (which would let MCM create a
   * second VM, or DeleteMachine end while the VM is still coming).
   */
  async findByMachine(machineName: string, signal: AbortSignal): Promise<VmRecord[]> {
    if (!isValidHostname(machineName)) return [];
    for (;;) {
      const view = await this.lookup(machineName, signal);
      if (view.mine.length > 0) {
        this.ledger.delete(this.ledgerKey(machineName));
        return view.mine.map(toVmRecord);
      }
      if (!view.pendingMine) return [];
      const left = this.callDeadline - this.timing.now();
      if (left <= 0) {
        throw new MachineError(
          MachineCode.Unavailable,
          `the VM of machine ${machineName} is still being created: VPSie shows hostname ${machineName} in its pending view but does not list it yet, so it has no identifier; the next call looks again`,
        );
      }
      await sleep(Math.min(this.timing.pollIntervalMs, left), undefined, { signal });
    }
  }

  /**
   * Makes sure a create request for this Machine has been sent exactly once,
   * and returns its VM once VPSie lists it:
   *
   * 1. hostname = Machine name, checked against the hostname rule first.
   * 2. Look the hostname up (VM list + pending view). Ours and listed → return
   *    it. Listed or pending but not ours → AlreadyExists (never adopted, and no
   *    second VM with a hostname discovery could confuse).
   * 3. Already requested? The record in machine.lastKnownState (MCM hands it
   *    back), the in-process ledger, or our tags in the pending view say so →
   *    no second create: discover until the call budget (→ Unavailable, record
   *    attached) or the discovery timeout counted from the request (→ Internal
   *    naming hostname and time waited). With discovery.recreateAfterTimeout
   *    and nothing visible, a timed-out request is replaced by a new one.
   * 4. Otherwise: the per-Machine script (userDataDelivery script), record the
   *    request, send the create once and discover as in 3. A 4xx (or an error
   *    body) means nothing was created [unconfirmed]: the record is dropped and
   *    the script removed. Any other failure (5xx, timeout, lost answer) may
   *    have created the VM: discovery goes on, the request is never repeated.
   */
  async create(machine: MachineRef, signal: AbortSignal): Promise<VmRecord> {
    const hostname = machine.name;
    if (!isValidHostname(hostname)) {
      throw new InvalidInputError([
        `machine.metadata.name: "${hostname}" cannot be a VPSie hostname, which the driver sets to the Machine name: it must be at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit`,
      ]);
    }
    const record = this.requestRecord(machine);
    let view: HostnameView;
    try {
      view = await this.lookup(hostname, signal);
    } catch (err) {
      throw record ? withLastKnownState(asMachineError(err, signal), formatRecord(record)) : err;
    }
    if (view.mine.length > 1) throw outOfRange(hostname, view.mine);
    if (view.mine.length === 1) {
      this.ledger.delete(this.ledgerKey(hostname));
      return toVmRecord(view.mine[0]!);
    }
    if (view.foreign.length > 0) {
      throw new MachineError(
        MachineCode.AlreadyExists,
        `VPSie project ${String(this.spec.projectId)} already has a VM with hostname ${hostname} (${view.foreign.map((v) => `vpsie://${v.identifier}`).join(', ')}) that does not carry the markers of machine ${hostname} in cluster ${this.machineClass.namespace}; the driver neither adopts it nor creates a second VM with the same hostname`,
      );
    }
    if (record) {
      const expired = this.timing.now() - record.requestedAtMs >= this.timing.discoveryTimeoutMs;
      const nothingVisible = !view.pendingMine && !view.pendingOther;
      if (!(expired && nothingVisible && this.timing.recreateAfterTimeout)) return this.discover(machine, record, signal);
      logger.warn('discovery timeout passed with nothing visible; sending a new create request (providerSpec.discovery.recreateAfterTimeout)', {
        hostname,
        requestedAt: new Date(record.requestedAtMs).toISOString(),
      });
    } else if (view.pendingMine) {
      // Requested before, but neither MCM (lastKnownState cleared) nor this process (restarted) remembers when.
      const seen = { hostname, requestedAtMs: this.timing.now() };
      this.ledger.set(this.ledgerKey(hostname), seen.requestedAtMs);
      logger.warn('a create request for this hostname is pending in VPSie but was not remembered; not creating again', { hostname });
      return this.discover(machine, seen, signal);
    } else if (view.pendingOther) {
      throw new MachineError(
        MachineCode.AlreadyExists,
        `VPSie's pending view has a VM with hostname ${hostname} that does not carry the tags of machine ${hostname} in cluster ${this.machineClass.namespace}; the driver does not create a second VM with the same hostname`,
      );
    }
    if (!view.complete) {
      throw new MachineError(
        MachineCode.Unavailable,
        `VPSie's VM list says it left VMs out (its total is larger than the list), so the driver cannot be sure no VM with hostname ${hostname} exists; not creating one`,
      );
    }
    return this.createOnce(machine, signal);
  }

  async delete(providerId: string, signal: AbortSignal): Promise<void> {
    const identifier = parseProviderId(providerId);
    await this.client.deleteVm(identifier, this.accountPassword, this.spec.deleteReason ?? DEFAULT_DELETE_REASON, 'deleted by mcm-grpc-driver (Gardener machine-controller-manager)', signal);
  }

  /** ListMachines: listed, not gone, notes markers name this cluster and this class, and the machine marker is the VM's hostname. */
  async list(signal: AbortSignal): Promise<VmRecord[]> {
    const { vms } = await this.client.listVms(this.spec.projectId, signal);
    return vms
      .filter((vm) => !isGone(vm) && this.inProject(vm))
      .filter((vm) => {
        const m = ownMarkers(vm);
        return m !== undefined && m.cluster === this.machineClass.namespace && m.machineClass === this.machineClass.name;
      })
      .map(toVmRecord);
  }

  /**
   * After DeleteMachine removed the Machine's VMs: the per-Machine boot
   * scripts go too, unless a VM of this Machine is still listed or pending
   * (e.g. the orphan stub named a duplicate while the live VM stays). Scripts
   * are recognised by name and by the marker line in their content.
   */
  async releaseMachine(machineName: string, signal: AbortSignal): Promise<void> {
    if (!isValidHostname(machineName)) return;
    const view = await this.lookup(machineName, signal);
    if (view.mine.length > 0 || view.pendingMine) return;
    this.ledger.delete(this.ledgerKey(machineName));
    for (const script of await this.scriptsOf(machineName, signal)) {
      await this.client.deleteScript(script.identifier, signal);
      logger.info('deleted the per-Machine boot script', { machine: machineName, script: script.identifier });
    }
  }

  // ---- create, step by step ----

  /** Step 4 of create: the one create request. */
  private async createOnce(machine: MachineRef, signal: AbortSignal): Promise<VmRecord> {
    const hostname = machine.name;
    const delivery = this.spec.userDataDelivery ?? 'script';
    const hasUserData = this.userData !== undefined && this.userData.length > 0;
    const scriptIdentifier = delivery === 'script' && hasUserData ? await this.prepareScript(hostname, signal) : undefined;
    const body = createVmRequest(this.spec, hostname, this.machineClass, {
      scriptIdentifier,
      userData: delivery === 'userData' ? this.userData : undefined,
    });
    const record: CreateRequestRecord = { hostname, requestedAtMs: this.timing.now() };
    this.ledger.set(this.ledgerKey(hostname), record.requestedAtMs);
    try {
      await this.client.createVm(body, signal);
      logger.info('VPSie create vm requested; it answers no id, discovering the VM by hostname', { hostname });
    } catch (err) {
      if (isDefiniteRefusal(err)) {
        this.ledger.delete(this.ledgerKey(hostname));
        if (scriptIdentifier) {
          await this.client.deleteScript(scriptIdentifier, signal).catch((e: unknown) =>
            logger.warn('could not remove the boot script of a refused create; the next attempt replaces it', { error: asMachineError(e).message }),
          );
        }
        throw err;
      }
      if (signal.aborted) throw this.waitingError(machine, record, asMachineError(err, signal));
      logger.warn('create vm outcome unknown; not repeating it, discovering the VM by hostname', { hostname, error: asMachineError(err).message });
    }
    return this.discover(machine, record, signal);
  }

  /**
   * Polls the VM list and the pending view for the hostname, never creating.
   * Ends with the VM, Unavailable at the end of the call's budget, or Internal
   * once the discovery timeout (from the recorded request) has passed. Every
   * error carries the request record as lastKnownState.
   */
  private async discover(machine: MachineRef, record: CreateRequestRecord, signal: AbortSignal): Promise<VmRecord> {
    const hostname = machine.name;
    const discoveryEnd = record.requestedAtMs + this.timing.discoveryTimeoutMs;
    let pending = false;
    for (;;) {
      try {
        const view = await this.lookup(hostname, signal);
        if (view.mine.length > 1) throw outOfRange(hostname, view.mine);
        if (view.mine.length === 1) {
          this.ledger.delete(this.ledgerKey(hostname));
          logger.info('discovered the VM by hostname', { hostname, providerId: `vpsie://${view.mine[0]!.identifier}` });
          return toVmRecord(view.mine[0]!);
        }
        pending = view.pendingMine || view.pendingOther;
      } catch (err) {
        const failure = asMachineError(err, signal);
        if (signal.aborted || !isTransient(failure.code)) throw this.waitingError(machine, record, failure);
        logger.warn('looking for the VM failed; trying again', { hostname, error: failure.message });
      }
      const now = this.timing.now();
      const requestedAt = new Date(record.requestedAtMs).toISOString();
      if (now >= discoveryEnd) {
        throw new MachineError(
          MachineCode.Internal,
          `VPSie has not listed a VM with hostname ${hostname} ${formatMs(now - record.requestedAtMs)} after the create request of ${requestedAt} (discovery timeout ${formatMs(this.timing.discoveryTimeoutMs)}${pending ? '; it is still in the pending view' : ''}); the driver does not send another create request for machine ${hostname}, because the first VM could still appear and would then be a duplicate. Check the VPSie panel for ${hostname}; delete the Machine to have it replaced, or set providerSpec.discovery.recreateAfterTimeout to allow a new request`,
          { lastKnownState: formatRecord(record) },
        );
      }
      if (now >= this.callDeadline) {
        throw this.waitingError(
          machine,
          record,
          new MachineError(
            MachineCode.Unavailable,
            `VPSie does not list a VM with hostname ${hostname} yet (create requested ${formatMs(now - record.requestedAtMs)} ago, at ${requestedAt}; ${pending ? 'it is in the pending view' : 'not in the pending view either'}); the next call looks again and does not create another; the driver gives up ${formatMs(this.timing.discoveryTimeoutMs)} after the request`,
          ),
        );
      }
      try {
        await sleep(Math.min(this.timing.pollIntervalMs, this.callDeadline - now, discoveryEnd - now), undefined, { signal });
      } catch (err) {
        throw this.waitingError(machine, record, asMachineError(err, signal));
      }
    }
  }

  /**
   * An error while the VM is awaited, with the request record attached. MCM
   * keeps an existing lastKnownState for its 5-second codes (Unavailable,
   * DeadlineExceeded, Aborted, Unknown) and ResourceExhausted, and stores the
   * response's only for the others (mcm-contract.md §3). When the Machine
   * carries a different lastKnownState (an older request, or the core's
   * `{"providerId","state"}` of a VM that is gone), such a code would leave
   * the stale value and lose this record across a sidecar restart, so the
   * error becomes Internal (MCM stores the record, retries in 3 min).
   */
  private waitingError(machine: MachineRef, record: CreateRequestRecord, failure: MachineError): MachineError {
    const lks = formatRecord(record);
    const keepsExisting = [MachineCode.Unavailable, MachineCode.DeadlineExceeded, MachineCode.Aborted, MachineCode.Unknown, MachineCode.ResourceExhausted].includes(failure.code);
    if (keepsExisting && machine.lastKnownState !== '' && machine.lastKnownState !== lks) {
      return new MachineError(
        MachineCode.Internal,
        `${failure.message} (reported as Internal so that MCM replaces the Machine's older lastKnownState with this create request's record)`,
        { lastKnownState: lks },
        { cause: failure },
      );
    }
    return withLastKnownState(failure, lks);
  }

  /** The latest create request known for this Machine: MCM's lastKnownState or this process's ledger. */
  private requestRecord(machine: MachineRef): CreateRequestRecord | undefined {
    const fromMcm = parseRecord(machine.lastKnownState, machine.name, this.timing.now());
    const fromLedger = this.ledger.get(this.ledgerKey(machine.name));
    const times = [fromMcm?.requestedAtMs, fromLedger].filter((t): t is number => t !== undefined);
    return times.length > 0 ? { hostname: machine.name, requestedAtMs: Math.max(...times) } : undefined;
  }

  /**
   * The per-Machine boot script: MCM's userData plus our marker comment, type
   * bash (as VPSie's CAPI provider stores its bootstrap data [sdk]; whether
   * VPSie runs a cloud-config body is [unconfirmed]). An identical one from an
   * earlier attempt is reused; others of this Machine are replaced (their
   * bootstrap token may be stale). VPSie answers no id, so the script is found
   * by name `<hostname>.sh` [sdk] and its marker line.
   */
  private async prepareScript(hostname: string, signal: AbortSignal): Promise<string> {
    const markers = markersOf(hostname, this.machineClass);
    const content = `${this.userData!.toString('utf8').trimEnd()}\n${scriptMarkerLine(markers)}\n`;
    const existing = await this.scriptsOf(hostname, signal);
    const same = existing.filter((s) => normalise(s.script) === normalise(content));
    if (existing.length === 1 && same.length === 1) return same[0]!.identifier;
    for (const stale of existing) await this.client.deleteScript(stale.identifier, signal);
    await this.client.addScript({ name: hostname, scriptContent: content, scriptType: 'bash', tags: markerTags(markers) }, signal);
    for (;;) {
      const found = await this.scriptsOf(hostname, signal);
      if (found.length > 0) return found[found.length - 1]!.identifier;
      const left = this.callDeadline - this.timing.now();
      if (left <= 0) {
        throw new MachineError(MachineCode.Unavailable, `VPSie does not list the boot script of machine ${hostname} yet; no VM was requested, the next call tries again`);
      }
      await sleep(Math.min(this.timing.pollIntervalMs, left), undefined, { signal });
    }
  }

  private async scriptsOf(hostname: string, signal: AbortSignal): Promise<VpsieScript[]> {
    const scripts = await this.client.listScripts(signal);
    return scripts.filter((s) => {
      if (s.script_name !== `${hostname}.sh` && s.script_name !== hostname) return false;
      const m = parseScriptMarkers(s.script);
      return m !== undefined && m.cluster === this.machineClass.namespace && m.machine === hostname;
    });
  }

  /** One VM list request, plus the pending view when the list has no VM of ours. */
  private async lookup(hostname: string, signal: AbortSignal): Promise<HostnameView> {
    const cluster = this.machineClass.namespace;
    const listed = async () => {
      const { vms, complete } = await this.client.listVms(this.spec.projectId, signal);
      const same = vms.filter((vm) => vm.hostname === hostname && !isGone(vm) && this.inProject(vm));
      const mine = same.filter((vm) => ownMarkers(vm)?.cluster === cluster);
      return { mine, foreign: same.filter((vm) => !mine.includes(vm)), complete };
    };
    let view = await listed();
    let pendingMine = false;
    let pendingOther = false;
    if (view.mine.length === 0) {
      for (const p of await this.client.listPendingVms(signal)) {
        const data = p.data;
        if (data?.hostname !== hostname) continue;
        if (data.projectId !== undefined && String(data.projectId) !== String(this.spec.projectId)) continue;
        if (tagsCarry(data.tags, cluster, hostname)) pendingMine = true;
        else pendingOther = true;
      }
      // A VM moves from the pending view to the list: one that left the pending view after the list was read
      // is in neither answer. Nothing in either: read the list again, so a VM visible throughout is never missed.
      if (!pendingMine && !pendingOther) view = await listed();
    }
    return { ...view, pendingMine, pendingOther };
  }

  /** The list is asked for one project; a VM that says it is in another (numeric ids only) is left out. */
  private inProject(vm: VmData): boolean {
    const wanted = Number(this.spec.projectId);
    return typeof vm.project_id !== 'number' || !Number.isInteger(wanted) || vm.project_id === wanted;
  }

  private ledgerKey(hostname: string): string {
    return this.ledgerPrefix + hostname;
  }
}

function outOfRange(hostname: string, vms: VmData[]): MachineError {
  return new MachineError(
    MachineCode.OutOfRange,
    `${vms.length} VMs carry the markers of machine ${hostname}: ${vms.map((v) => `vpsie://${v.identifier}`).join(', ')}`,
  );
}

/**
 * An error body (any status it stands for) or an HTTP 4xx other than 408
 * means VPSie looked at the request and refused it [unconfirmed]: nothing was
 * made. A 5xx, a timeout, a reset or an unreadable answer may hide a VM.
 */
function isDefiniteRefusal(err: unknown): boolean {
  if (err instanceof VpsieBodyError) return true;
  return err instanceof CloudApiError && err.kind === 'http' && err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 408;
}

function isTransient(code: MachineCode): boolean {
  return code === MachineCode.Unavailable || code === MachineCode.DeadlineExceeded || code === MachineCode.Unknown || code === MachineCode.Aborted;
}

function normalise(text: string | undefined): string {
  return (text ?? '').replace(/\r\n/g, '\n').trim();
}

/** `15m0s`, `42s`, `1.5s`. */
export function formatMs(ms: number): string {
  if (ms < 10_000) return `${Math.max(0, Math.round(ms / 100) / 10)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${m}m${sec}s` : m > 0 ? `${m}m${sec}s` : `${sec}s`;
}

/** Environment timing knobs, in parseDuration's grammar; `mcm-driver serve` checks them at start. */
export const VPSIE_DURATION_ENV = ['VPSIE_DISCOVERY_TIMEOUT', 'VPSIE_DISCOVERY_CALL_BUDGET', 'VPSIE_DISCOVERY_POLL_INTERVAL'] as const;

function envDuration(name: (typeof VPSIE_DURATION_ENV)[number]): number | undefined {
  const v = process.env[name];
  if (!v) return undefined;
  try {
    return parseDuration(v);
  } catch {
    logger.warn(`ignoring ${name}: not a duration`, { value: v });
    return undefined;
  }
}

function decodeSecret(data: SecretData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v).toString('utf8');
  return out;
}

/** Runs a check that throws InvalidInputError and keeps its problems. */
function collect(problems: string[], check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof InvalidInputError) problems.push(...err.problems);
    else throw err;
  }
}
