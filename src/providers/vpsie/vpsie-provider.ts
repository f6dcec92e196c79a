import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../driver/machine-error.js';
import type { CloudProvider, CloudSession, CreateHooks, DeleteProgress, ListedVm, MachineClassRef, MachineRef, SecretData, SessionPurpose, StillLeft, VmRecord } from '../../driver/provider.js';
import { assertValid, compileManageSchema, compileSchema } from '../../driver/validation.js';
import { CloudApiError } from '../../http/cloud-api-error.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import type { RetryPolicy } from '../../http/retry-policy.js';
import { logger } from '../../observability/logger.js';
import { ClientCache, collect, decodeSecret } from '../kit/index.js';
import { createVmRequest, isGone, markersOf, ownMarkers, toVmRecord, vmState } from './mapping.js';
import { isMarkerValue, isValidHostname, markersOfTags, markerTags, parseScriptMarkers, scriptMarkerLine, tagsCarry, type Markers } from './markers.js';
import { PendingVmError } from './pending-vm-error.js';
import { RequestRateLimiter } from './request-rate-limiter.js';
import { formatProviderId, parseProviderId } from './provider-id.js';
import providerSpecSchema from './provider-spec.schema.json' with { type: 'json' };
import secretSchema from './secret.schema.json' with { type: 'json' };
import type { VmData, VpsieProviderSpec, VpsieScript, VpsieSecret } from './types.js';
import { cloudMessageOf, isQuotaMessage, VpsieClient, type FlagEncoding } from './vpsie-client.js';

/** VM calls, as VPSie's newest client makes them [sdk: vpsieinc/govpsie server.go serverBasePath = "/api/v2/vm"]. */
export const DEFAULT_API_ENDPOINT = 'https://api.vpsie.com/api/v2';
/** Pending view and scripts: `/apps/v2` in every VPSie client [sdk: govpsie pending.go, scripts.go]; default = the VM endpoint's origin + /apps/v2. */
export const APPS_PATH = '/apps/v2';
/** VPSie's autoscaler limits itself to this [sdk: vpsieinc/vpsie-k8s-autoscaler client.go DefaultRateLimit]. */
export const DEFAULT_REQUESTS_PER_MINUTE = 100;
/**
 * VPSie's create is asynchronous and answers no id [sdk: vpsieinc/govpsie
 * server.go CreateServer returns only an error]; VPSie's own Terraform
 * provider then looks the VM up by hostname every 5 s for up to its create
 * timeout, 20 min by default [sdk: vpsieinc/terraform-provider-vpsie
 * internal/services/server/server_resource.go Create,
 * `plan.Timeouts.Create(ctx, 20*time.Minute)`, `time.Sleep(5 * time.Second)`].
 * So a VPSie VM may take that long to be listed: MachineDriver sends no
 * second create for the Machine within it (a VM seen in the pending view
 * holds creates back past it, see findByMachine).
 */
export const VPSIE_DISCOVERY_WINDOW_MS = 20 * 60_000;
/** How long a VM's ownership read from its tags is remembered (one GET per VM, not per poll). */
const TAG_OWNERSHIP_TTL_MS = 10 * 60_000;
/** Bounds the tag cache: one entry per listed VM with the Machine's hostname but no readable notes marker. */
const TAG_OWNERSHIP_MAX = 10_000;
const DEFAULT_DELETE_REASON = 'no longer needed';

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
  /** For tests: the clock the tag cache is measured with. */
  now?: () => number;
}

const validateSpec = compileSchema<VpsieProviderSpec>(providerSpecSchema);
/** Delete, status and list use the project and the delete reason; nothing that shapes a new VM (`discovery` is accepted and ignored). */
const validateManageSpec = compileManageSchema<VpsieProviderSpec>(providerSpecSchema, ['projectId', 'deleteReason', 'discovery']);
const validateSecret = compileSchema<VpsieSecret>(secretSchema);

/** What the provider keeps across calls: caches of what VPSie answered, never a lifecycle decision. */
interface Shared {
  /** VM identifier → its markers read from its tags (undefined: not ours), with the time read. */
  tagOwnership: Map<string, { markers: Markers | undefined; atMs: number }>;
  now: () => number;
}

/**
 * VPSie behind the CloudProvider interface, as an API adapter: VPSie's create
 * is asynchronous and answers no VM id, so create() answers undefined and
 * MachineDriver discovers the VM by its markers (findByMachine) within
 * discoveryWindowMs. The VM is found by hostname (= Machine name) and our
 * notes/tags markers, first in the pending view (no identifier yet), later in
 * the VM list [sdk: govpsie pending.go, server.go].
 */
export class VpsieProvider implements CloudProvider {
  readonly name = 'VPSie';
  readonly schemas = { providerSpec: providerSpecSchema, secret: secretSchema };
  readonly discoveryWindowMs = VPSIE_DISCOVERY_WINDOW_MS;
  private readonly httpClients = new ClientCache<CloudHttpClient>();
  private readonly limiters = new ClientCache<RequestRateLimiter>();
  private readonly shared: Shared;

  constructor(private readonly options: VpsieProviderOptions = {}) {
    this.shared = { tagOwnership: new Map(), now: options.now ?? Date.now };
  }

  async open(machineClass: MachineClassRef, secretData: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    const problems: string[] = [];
    const spec = machineClass.providerSpec;
    collect(problems, () => assertValid(purpose === 'create' ? validateSpec : validateManageSpec, spec, 'machineClass.providerSpec'));
    const secret = decodeSecret(secretData) as unknown as VpsieSecret;
    collect(problems, () => assertValid(validateSecret, secret, 'secret'));
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
    const client = new VpsieClient({ vmHttp: this.http(endpoint, token), appsHttp: this.http(appsEndpoint, token), limiter: this.limiter(endpoint, token) });
    return new VpsieSession(client, flagEncodingOf(endpoint), this.shared, validSpec, machineClass, secretData['userData'], secret['account-password']);
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
    return this.limiters.get(id, () => {
      const env = Number(process.env.VPSIE_REQUESTS_PER_MINUTE);
      const perMinute = this.options.requestsPerMinute ?? (Number.isFinite(env) && env > 0 ? env : DEFAULT_REQUESTS_PER_MINUTE);
      return new RequestRateLimiter(perMinute);
    });
  }

  /** One HTTP client per endpoint and token (bounded: a rotated Secret gets a fresh one, old ones are dropped). */
  private http(endpoint: string, token: string): CloudHttpClient {
    const id = createHash('sha256').update(`${endpoint}\n${token}`).digest('hex');
    return this.httpClients.get(
      id,
      () =>
        new CloudHttpClient({
          cloud: 'vpsie',
          baseUrl: endpoint,
          timeoutMs: this.options.httpTimeoutMs,
          retry: this.options.retry,
          maxResponseBytes: this.options.maxResponseBytes,
          // Every VPSie-authored client sends the token in this header [sdk: vpsieinc/terraform-provider-vpsie
          // internal/provider/provider.go `"Vpsie-Auth": accessToken`; govpsie firewallGroup_test.go]. The token is the
          // Secret's, fixed for this client's life: set once on the client rather than by a hook per request.
          headers: { 'vpsie-auth': token, accept: 'application/json' },
          errorMessage: cloudMessageOf,
          isQuota: (_status, message) => isQuotaMessage(message),
        }),
    );
  }
}

/** What one lookup by hostname saw. */
interface HostnameView {
  /** Listed, not gone, hostname exact, markers (notes, else tags) name this cluster and this Machine. */
  mine: VmData[];
  /** In the pending view with this hostname and our cluster and Machine tags (no identifier yet). */
  pendingMine: boolean;
}

/** One call's binding to a MachineClass and Secret. */
class VpsieSession implements CloudSession {
  constructor(
    private readonly client: VpsieClient,
    private readonly flagEncoding: FlagEncoding,
    private readonly shared: Shared,
    private readonly spec: VpsieProviderSpec,
    private readonly machineClass: MachineClassRef,
    private readonly userData: Buffer | undefined,
    private readonly accountPassword: string,
  ) {}

  /**
   * The VM of exactly this identifier. A "not found" is checked against the VM
   * list before it is believed: answering "gone" for a VM that exists would end
   * DeleteMachine's wait and leak the VM (how VPSie answers an unknown id is
   * [unconfirmed]). A VM in the pending view has no identifier, so no
   * providerID can name it.
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
   * markers (notes, else tags) naming this cluster and this Machine (any
   * class: a Machine may change class). A VM of ours that is only in the
   * pending view exists but has no identifier yet, so no VmRecord can name it:
   * the answer is PendingVmError (Unavailable, MCM retries in 5 s), never
   * "none", which would let MachineDriver create a second VM (also after its
   * discovery window) or end a DeleteMachine while the VM is still coming.
   */
  async findByMachine(machineName: string, signal: AbortSignal): Promise<VmRecord[]> {
    if (!isValidHostname(machineName)) return [];
    const view = await this.lookup(machineName, signal);
    if (view.mine.length > 0) return view.mine.map((vm) => this.record(vm));
    if (view.pendingMine) throw new PendingVmError(machineName);
    return [];
  }

  /**
   * The Machine's VM request, as two VPSie steps, each sent once:
   * 1. the per-Machine boot script (userDataDelivery script, the default):
   *    reuse this Machine's script when its body is MCM's current userData,
   *    else add one, as a step request (hooks.stepRequest: VPSie's add
   *    answers no id, so MachineDriver has it found by listing and sends no
   *    second add while it is not listed yet);
   * 2. the VM create (hooks.beforeVmRequest first), with hostname = Machine
   *    name and our markers in notes and tags. VPSie answers no id, so this answers undefined and
   *    MachineDriver discovers the VM by its markers.
   * Nothing is removed here after a failure: the script carries the
   * Machine's marker and the next attempt reuses it; MachineDriver removes it
   * (releaseMachine) after a refusal that needs a human and on DeleteMachine.
   */
  async create(machine: MachineRef, signal: AbortSignal, hooks: CreateHooks): Promise<undefined> {
    const hostname = machine.name;
    if (!isValidHostname(hostname)) {
      throw new InvalidInputError([
        `machine.metadata.name: "${hostname}" cannot be a VPSie hostname, which the driver sets to the Machine name: it must be at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit`,
      ]);
    }
    const delivery = this.spec.userDataDelivery ?? 'script';
    const hasUserData = this.userData !== undefined && this.userData.length > 0;
    let scriptIdentifier: string | undefined;
    if (delivery === 'script' && hasUserData) scriptIdentifier = await this.prepareScript(hostname, hooks, signal);
    const body = createVmRequest(this.spec, hostname, this.machineClass, { scriptIdentifier, userData: delivery === 'userData' ? this.userData : undefined }, this.flagEncoding);
    // The discovery window counts from here, not from the script step before it.
    hooks.beforeVmRequest();
    // A call cut while it waits for the account's request budget throws RequestNotSentError: the driver's classifier counts it as refused.
    await this.client.createVm(body, signal);
    logger.info('VPSie create vm requested; it answers no id, the driver discovers the VM by its markers', { hostname });
    return undefined;
  }

  /** Exactly this VM; VPSie wants the account password and a reason [sdk: govpsie DeleteServer]. Already gone is success. */
  /** One delete request: VPSie deletes a VM of any state by itself, so the deletion is requested at once. */
  async delete(providerId: string, signal: AbortSignal): Promise<DeleteProgress> {
    const identifier = parseProviderId(providerId);
    await this.client.deleteVm(identifier, this.accountPassword, this.spec.deleteReason ?? DEFAULT_DELETE_REASON, 'deleted by mcm-grpc-driver (Gardener machine-controller-manager)', signal);
    return 'requested';
  }

  /**
   * ListMachines: listed, not gone, markers name this cluster and this class,
   * and the machine marker is the VM's hostname. Pending VMs have no
   * identifier yet, and MCM's orphan sweep can only act on a providerID.
   */
  async *list(signal: AbortSignal): AsyncIterable<ListedVm[]> {
    for await (const page of this.client.listVmPages(this.spec.projectId, signal)) {
      const out: ListedVm[] = [];
      for (const vm of page) {
        if (isGone(vm) || !this.inProject(vm)) continue;
        const m = await this.markersOfVm(vm, signal);
        if (m !== undefined && m.cluster === this.machineClass.namespace && m.machineClass === this.machineClass.name) {
          out.push({ providerId: formatProviderId(vm.identifier), machineName: m.machine, state: vmState(vm) });
        }
      }
      yield out;
    }
  }

  /**
   * After DeleteMachine saw the Machine's VMs gone: the per-Machine boot
   * scripts go too, unless a VM of this Machine is still listed or pending
   * (e.g. the orphan stub named a duplicate while the live VM stays). A
   * failed removal throws, so DeleteMachine fails and MCM's next call retries it.
   * One pass: VPSie documents no asynchronous state for a script delete, so a
   * pass that deleted them leaves nothing for the driver to wait for (undefined).
   */
  async releaseMachine(machineName: string, signal: AbortSignal): Promise<StillLeft> {
    if (!isValidHostname(machineName)) return undefined;
    const view = await this.lookup(machineName, signal);
    if (view.mine.length > 0 || view.pendingMine) return undefined;
    for (const script of await this.scriptsOf(machineName, signal)) {
      await this.client.deleteScript(script.identifier, signal);
      logger.info('deleted the per-Machine boot script', { machine: machineName, script: script.identifier });
    }
    return undefined;
  }

  // ---- the script step ----

  /**
   * The per-Machine boot script: MCM's userData plus our marker comment, type
   * bash (as VPSie's CAPI provider stores its bootstrap data [sdk]; whether
   * VPSie runs a cloud-config body is [unconfirmed]). The Machine's scripts
   * are found by name and by the marker line of their body, read by the
   * detail call. One whose body is the current userData is reused (extra
   * copies of it go); others of this Machine are stale (an old bootstrap
   * token) and go before a new one is added. VPSie's add answers no id
   * [sdk: govpsie scripts.go CreateScript], so the new script is found by
   * listing; not listed yet: MachineDriver answers Unavailable and sends no
   * second add within its discovery window (hooks.stepRequest).
   */
  private async prepareScript(hostname: string, hooks: CreateHooks, signal: AbortSignal): Promise<string> {
    const markers = markersOf(hostname, this.machineClass);
    const content = `${this.userData!.toString('utf8').trimEnd()}\n${scriptMarkerLine(markers)}\n`;
    const existing = await this.scriptsOf(hostname, signal);
    const same = existing.filter((s) => normalise(s.script) === normalise(content));
    if (same.length > 0) {
      for (const extra of existing.filter((s) => s !== same[0])) await this.client.deleteScript(extra.identifier, signal);
      return same[0]!.identifier;
    }
    return hooks.stepRequest(
      'boot script add',
      async () => {
        for (const stale of existing) await this.client.deleteScript(stale.identifier, signal);
        await this.client.addScript({ name: hostname, scriptContent: content, scriptType: 'bash', tags: markerTags(markers) }, signal);
        return undefined; // VPSie answers no id [sdk: govpsie scripts.go CreateScript]: found by listing
      },
      async () => (await this.scriptsOf(hostname, signal)).filter((s) => normalise(s.script) === normalise(content)).at(-1)?.identifier,
    );
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

  // ---- lookups ----

  /**
   * The markers of a listed VM: its notes marker, else (notes shortened or
   * re-encoded beyond recognition) its tags from GET /vm/{id}, because the
   * list carries no tags [sdk: govpsie VmData has none, ListServerByIdentifierRoot
   * has vmTags]. Either must name the VM's own hostname. Tag answers are
   * remembered per VM.
   */
  private async markersOfVm(vm: VmData, signal: AbortSignal): Promise<Markers | undefined> {
    const fromNotes = ownMarkers(vm);
    if (fromNotes) return fromNotes;
    if (isGone(vm) || !isValidHostname(vm.hostname)) return undefined;
    const cached = this.shared.tagOwnership.get(vm.identifier);
    if (cached && this.shared.now() - cached.atMs < TAG_OWNERSHIP_TTL_MS) return cached.markers;
    const got = await this.client.getVm(vm.identifier, signal);
    const fromTags = got ? markersOfTags(got.tags) : undefined;
    const markers = fromTags && fromTags.machine === vm.hostname ? fromTags : undefined;
    this.shared.tagOwnership.delete(vm.identifier);
    this.shared.tagOwnership.set(vm.identifier, { markers, atMs: this.shared.now() });
    pruneOldest(this.shared.tagOwnership, TAG_OWNERSHIP_MAX);
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
      return mine;
    };
    let mine = await listed();
    let pendingMine = false;
    if (mine.length === 0) {
      let pendingAny = false;
      for (const p of await this.client.listPendingVms(signal)) {
        const data = p.data;
        if (data?.hostname !== hostname) continue;
        if (data.projectId !== undefined && String(data.projectId) !== String(this.spec.projectId)) continue;
        pendingAny = true;
        // Pending entries carry the create request's tags [sdk: govpsie pending.go PendingVm.Data.Tags].
        if (tagsCarry(data.tags, cluster, hostname)) pendingMine = true;
      }
      // A VM moves from the pending view to the list: one that left the pending view after the list was read
      // is in neither answer. Nothing in either: read the list again, so a VM visible throughout is never missed.
      if (!pendingAny) mine = await listed();
    }
    return { mine, pendingMine };
  }

  /** The list is asked for one project; a VM that says it is in another (numeric ids only) is left out. */
  private inProject(vm: VmData): boolean {
    const wanted = Number(this.spec.projectId);
    return typeof vm.project_id !== 'number' || !Number.isInteger(wanted) || vm.project_id === wanted;
  }

}

/** VPSie's CSI driver name [sdk: vpsieinc/vpsie-csi driver.go DefaultDriverName]. */
export const VPSIE_CSI_DRIVER = 'vpsie.csi.vpsie.com';

/** `/apps/v2/vm` takes numbers, `/api/v2/vm` strings (mapping.ts flag). */
export function flagEncodingOf(vmEndpoint: string): FlagEncoding {
  return new URL(vmEndpoint).pathname.replace(/\/+$/, '').endsWith(APPS_PATH) ? 'number' : 'string';
}

function normalise(text: string | undefined): string {
  return (text ?? '').replace(/\r\n/g, '\n').trim();
}

/** Insertion order is age order (entries are re-inserted when refreshed): the oldest go first. */
function pruneOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value!);
}
