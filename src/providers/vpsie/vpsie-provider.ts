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
import { isMarkerValue, isValidHostname, markersOfTags, markerTags, parseScriptMarkers, scriptMarkerLine, tagsCarry, type Markers } from './markers.js';
import { isRequestNotSent } from './request-not-sent-error.js';
import { RequestRateLimiter } from './request-rate-limiter.js';
import { parseProviderId } from './provider-id.js';
import providerSpecSchema from './provider-spec.schema.json' with { type: 'json' };
import { formatRecord, parseRecord, RequestLedger, type CreateRequestRecord } from './request-record.js';
import secretSchema from './secret.schema.json' with { type: 'json' };
import type { VmData, VpsieProviderSpec, VpsieScript, VpsieSecret } from './types.js';
import { cloudMessageOf, isQuotaMessage, VpsieBodyError, VpsieClient, type FlagEncoding } from './vpsie-client.js';

/** VM calls, as VPSie's newest client makes them [sdk: vpsieinc/govpsie server.go serverBasePath = "/api/v2/vm"]. */
export const DEFAULT_API_ENDPOINT = 'https://api.vpsie.com/api/v2';
/** Pending view and scripts: `/apps/v2` in every VPSie client [sdk: govpsie pending.go, scripts.go]; default = the VM endpoint's origin + /apps/v2. */
export const APPS_PATH = '/apps/v2';
/** VPSie's autoscaler limits itself to this [sdk: vpsieinc/vpsie-k8s-autoscaler client.go DefaultRateLimit]. */
export const DEFAULT_REQUESTS_PER_MINUTE = 100;
/** How long a VM's ownership read from its tags is remembered (one GET per VM, not per poll). */
const TAG_OWNERSHIP_TTL_MS = 10 * 60_000;
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_DISCOVERY_CALL_BUDGET_MS = 45_000;
/** Terraform's VPSie provider polls every 5 s [sdk: vpsieinc/terraform-provider-vpsie internal/services/server/server_resource.go Create, time.Sleep(5 * time.Second)]. */
export const DEFAULT_DISCOVERY_POLL_INTERVAL_MS = 5_000;
const DEFAULT_DELETE_REASON = 'no longer needed';
const MIN_DISCOVERY_TIMEOUT_MS = 1_000;
const MAX_DISCOVERY_TIMEOUT_MS = 24 * 60 * 60_000;

export interface VpsieProviderOptions {
  /** Base URL of the VM calls with version prefix; env VPSIE_API_ENDPOINT; a Secret's `api-endpoint` wins. */
  apiEndpoint?: string;
  /** Base URL of the pending view and scripts; env VPSIE_APPS_ENDPOINT; a Secret's `apps-endpoint` wins; default origin of the VM endpoint + /apps/v2. */
  appsEndpoint?: string;
  /** Requests a minute per account and endpoint, shared by all Machines; env VPSIE_REQUESTS_PER_MINUTE; default 100. */
  requestsPerMinute?: number;
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
 * asynchronous and answers no VM id [sdk: vpsieinc/govpsie server.go CreateServer returns only an
 * error]; the VM is found by hostname (=
 * Machine name), first in the pending view, later in the VM list [sdk]. See
 * VpsieSession.create for how that stays duplicate-free and bounded.
 */
export class VpsieProvider implements CloudProvider {
  readonly name = 'VPSie';
  readonly schemas = { providerSpec: providerSpecSchema, secret: secretSchema };
  private readonly httpClients = new Map<string, CloudHttpClient>();
  private readonly limiters = new Map<string, RequestRateLimiter>();
  /** VM identifier → its markers read from its tags (undefined: not ours), with the time read. */
  private readonly tagOwnership = new Map<string, { markers: Markers | undefined; atMs: number }>();
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
    const appsEndpoint = secret['apps-endpoint'] ?? this.options.appsEndpoint ?? process.env.VPSIE_APPS_ENDPOINT ?? `${new URL(endpoint).origin}${APPS_PATH}`;
    const token = secret['api-token'];
    const timing: Timing = {
      callBudgetMs: this.options.discoveryCallBudgetMs ?? envDuration('VPSIE_DISCOVERY_CALL_BUDGET') ?? DEFAULT_DISCOVERY_CALL_BUDGET_MS,
      pollIntervalMs: this.options.discoveryPollIntervalMs ?? envDuration('VPSIE_DISCOVERY_POLL_INTERVAL') ?? DEFAULT_DISCOVERY_POLL_INTERVAL_MS,
      discoveryTimeoutMs,
      recreateAfterTimeout: validSpec.discovery?.recreateAfterTimeout ?? false,
      now: this.now,
    };
    const client = new VpsieClient({ vmHttp: this.http(endpoint, token), appsHttp: this.http(appsEndpoint, token), limiter: this.limiter(endpoint, token) });
    return new VpsieSession(
      client,
      flagEncodingOf(endpoint),
      this.tagOwnership,
      validSpec,
      machineClass,
      secretData['userData'],
      secret['account-password'],
      this.ledger,
      `${endpoint}|${String(validSpec.projectId)}|`,
      timing,
    );
  }

  /**
   * A PV of VPSie's CSI driver: its volumeHandle is the VPSie storage
   * identifier [sdk: vpsieinc/vpsie-csi driver.go DefaultDriverName =
   * "vpsie.csi.vpsie.com"; the controller attaches the volume by that id].
   * Any other PV is not VPSie's.
   */
  volumeId(pvSpec: Record<string, unknown>): string | undefined {
    const csi = pvSpec['csi'] as { driver?: unknown; volumeHandle?: unknown } | undefined;
    if (csi?.driver !== VPSIE_CSI_DRIVER || typeof csi.volumeHandle !== 'string' || csi.volumeHandle === '') return undefined;
    return csi.volumeHandle;
  }

  /** One bucket per account (token) and VM endpoint: every session and Machine of that account shares it. */
  private limiter(endpoint: string, token: string): RequestRateLimiter {
    const id = createHash('sha256').update(`${new URL(endpoint).origin}\n${token}`).digest('hex');
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const env = Number(process.env.VPSIE_REQUESTS_PER_MINUTE);
      const perMinute = this.options.requestsPerMinute ?? (Number.isFinite(env) && env > 0 ? env : DEFAULT_REQUESTS_PER_MINUTE);
      limiter = new RequestRateLimiter(perMinute);
      this.limiters.set(id, limiter);
    }
    return limiter;
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
        // Every VPSie-authored client sends the token in this header [sdk: vpsieinc/terraform-provider-vpsie
        // internal/provider/provider.go `"Vpsie-Auth": accessToken`; govpsie firewallGroup_test.go].
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
}

/** One call's binding to a MachineClass and Secret: `open` runs once per RPC, so the call budget starts here. */
class VpsieSession implements CloudSession {
  private readonly callDeadline: number;

  constructor(
    private readonly client: VpsieClient,
    private readonly flagEncoding: FlagEncoding,
    private readonly tagOwnership: Map<string, { markers: Markers | undefined; atMs: number }>,
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
    let vm = (await this.client.getVm(identifier, signal))?.vm;
    if (!vm) {
      const vms = await this.client.listVms(this.spec.projectId, signal);
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
        return view.mine.map((vm) => this.record(vm));
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
      return this.record(view.mine[0]!);
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
    return this.createOnce(machine, signal);
  }

  async delete(providerId: string, signal: AbortSignal): Promise<void> {
    const identifier = parseProviderId(providerId);
    await this.client.deleteVm(identifier, this.accountPassword, this.spec.deleteReason ?? DEFAULT_DELETE_REASON, 'deleted by mcm-grpc-driver (Gardener machine-controller-manager)', signal);
  }

  /** ListMachines: listed, not gone, notes markers name this cluster and this class, and the machine marker is the VM's hostname. */
  async list(signal: AbortSignal): Promise<VmRecord[]> {
    const vms = await this.client.listVms(this.spec.projectId, signal);
    const out: VmRecord[] = [];
    for (const vm of vms.filter((v) => !isGone(v) && this.inProject(v))) {
      const m = await this.markersOfVm(vm, signal);
      if (m !== undefined && m.cluster === this.machineClass.namespace && m.machineClass === this.machineClass.name) out.push(this.record(vm, m));
    }
    return out;
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
    const body = createVmRequest(
      this.spec,
      hostname,
      this.machineClass,
      { scriptIdentifier, userData: delivery === 'userData' ? this.userData : undefined },
      this.flagEncoding,
    );
    const record: CreateRequestRecord = { hostname, requestedAtMs: this.timing.now() };
    this.ledger.set(this.ledgerKey(hostname), record.requestedAtMs);
    try {
      await this.client.createVm(body, signal);
      logger.info('VPSie create vm requested; it answers no id, discovering the VM by hostname', { hostname });
    } catch (err) {
      if (isRequestNotSent(err)) {
        // Cut while waiting for the rate limiter: the create never left, nothing to name. The script stays
        // (the next attempt finds it by name and reuses it).
        this.ledger.delete(this.ledgerKey(hostname));
        throw asMachineError(err.cause, signal);
      }
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
          return this.record(view.mine[0]!);
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
    const scriptKey = `${this.ledgerKey(hostname)}|script`;
    const existing = await this.scriptsOf(hostname, signal);
    const same = existing.filter((s) => normalise(s.script) === normalise(content));
    if (same.length > 0) {
      // Keep one; extra copies of ours (an add whose answer was lost, a restart) go.
      for (const extra of existing.filter((s) => s !== same[0])) await this.client.deleteScript(extra.identifier, signal);
      this.ledger.delete(scriptKey);
      return same[0]!.identifier;
    }
    // An add this process sent may not be listed yet: never add a second one while it may still appear.
    const addedAt = this.ledger.get(scriptKey);
    const addPending = addedAt !== undefined && this.timing.now() - addedAt < this.timing.discoveryTimeoutMs;
    if (!addPending) {
      for (const stale of existing) await this.client.deleteScript(stale.identifier, signal);
      this.ledger.set(scriptKey, this.timing.now());
      await this.client.addScript({ name: hostname, scriptContent: content, scriptType: 'bash', tags: markerTags(markers) }, signal);
    }
    for (;;) {
      const found = (await this.scriptsOf(hostname, signal)).filter((s) => normalise(s.script) === normalise(content));
      if (found.length > 0) {
        this.ledger.delete(scriptKey);
        return found[found.length - 1]!.identifier;
      }
      const left = this.callDeadline - this.timing.now();
      if (left <= 0) {
        throw new MachineError(MachineCode.Unavailable, `VPSie does not list the boot script of machine ${hostname} yet; no VM was requested, the next call looks again and does not add another script`);
      }
      await sleep(Math.min(this.timing.pollIntervalMs, left), undefined, { signal });
    }
  }

  /**
   * Our scripts of this Machine: named `<hostname>.sh` [sdk: VP-CAPI] in any
   * page of the list, with the marker line in the body read by the detail call
   * (the list is not assumed to carry bodies [sdk: govpsie GetScript]).
   */
  private async scriptsOf(hostname: string, signal: AbortSignal): Promise<VpsieScript[]> {
    const named = (await this.client.listScripts(signal)).filter((s) => s.script_name === `${hostname}.sh` || s.script_name === hostname);
    const out: VpsieScript[] = [];
    for (const s of named) {
      const detail = await this.client.getScript(s.identifier, signal);
      if (!detail) continue;
      const m = parseScriptMarkers(detail.script);
      if (m !== undefined && m.cluster === this.machineClass.namespace && m.machine === hostname) out.push({ ...s, script: detail.script });
    }
    return out;
  }

  /**
   * The markers of a listed VM: its notes marker, else (notes shortened or
   * re-encoded beyond recognition) its tags from GET /vm/{id}. Either must
   * name the VM's own hostname. Tag answers are remembered per VM.
   */
  private async markersOfVm(vm: VmData, signal: AbortSignal): Promise<Markers | undefined> {
    const fromNotes = ownMarkers(vm);
    if (fromNotes) return fromNotes;
    if (isGone(vm) || !isValidHostname(vm.hostname)) return undefined;
    const cached = this.tagOwnership.get(vm.identifier);
    if (cached && this.timing.now() - cached.atMs < TAG_OWNERSHIP_TTL_MS) return cached.markers;
    const got = await this.client.getVm(vm.identifier, signal);
    const fromTags = got ? markersOfTags(got.tags) : undefined;
    const markers = fromTags && fromTags.machine === vm.hostname ? fromTags : undefined;
    this.tagOwnership.set(vm.identifier, { markers, atMs: this.timing.now() });
    return markers;
  }

  /** A VM known to be ours, with the Machine its markers name (notes or tags). */
  private record(vm: VmData, markers?: Markers): VmRecord {
    return { ...toVmRecord(vm), machineName: markers?.machine ?? vm.hostname };
  }

  /** One VM list request, plus the pending view when the list has no VM of ours. */
  private async lookup(hostname: string, signal: AbortSignal): Promise<HostnameView> {
    const cluster = this.machineClass.namespace;
    const listed = async () => {
      const vms = await this.client.listVms(this.spec.projectId, signal);
      const same = vms.filter((vm) => vm.hostname === hostname && !isGone(vm) && this.inProject(vm));
      const mine: VmData[] = [];
      for (const vm of same) if ((await this.markersOfVm(vm, signal))?.cluster === cluster) mine.push(vm);
      return { mine, foreign: same.filter((vm) => !mine.includes(vm)) };
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

/** VPSie's CSI driver name [sdk: vpsieinc/vpsie-csi driver.go DefaultDriverName]. */
export const VPSIE_CSI_DRIVER = 'vpsie.csi.vpsie.com';

/** `/apps/v2/vm` takes numbers, `/api/v2/vm` strings (mapping.ts flag). */
export function flagEncodingOf(vmEndpoint: string): FlagEncoding {
  return new URL(vmEndpoint).pathname.replace(/\/+$/, '').endsWith(APPS_PATH) ? 'number' : 'string';
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
