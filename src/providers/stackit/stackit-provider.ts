import { createHash } from 'node:crypto';
import { MachineCode } from '../../driver/codes.js';
import { InvalidInputError, MachineError } from '../../driver/machine-error.js';
import type { CloudProvider, CloudSession, CreateHooks, DeleteProgress, ListedVm, MachineClassRef, MachineRef, SecretData, SessionPurpose, VmRecord } from '../../driver/provider.js';
import { assertValid, compileManageSchema, compileSchema } from '../../driver/validation.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import type { RetryPolicy } from '../../http/retry-policy.js';
import { type AccessTokenSource, ServiceAccountKeyFlow, StaticToken } from './access-token.js';
import { logger } from '../../observability/logger.js';
import { ClientCache, collect, decodeSecret, firstSet } from '../kit/index.js';
import { withAllowedAddresses } from './allowed-addresses.js';
import { IaasClient } from './iaas-client.js';
import { createServerPayload, hasLabels, isCapacityProblem, nicAddresses, toListedVm, toVmRecord } from './mapping.js';
import { type ClusterMarker, MACHINE_CLASS_LABEL, MACHINE_LABEL, clusterMarker, labelSelector } from './markers.js';
import { parseProviderId } from './provider-id.js';
import providerSpecSchema from './provider-spec.schema.json' with { type: 'json' };
import secretSchema from './secret.schema.json' with { type: 'json' };
import serviceAccountKeySchema from './service-account-key.schema.json' with { type: 'json' };
import type { ServiceAccountKey, StackitProviderSpec, StackitSecret, StackitServer } from './types.js';
import { dropUnset } from './unset-fields.js';

export const DEFAULT_IAAS_ENDPOINT = 'https://iaas.api.stackit.cloud';
export const DEFAULT_TOKEN_ENDPOINT = 'https://service-account.api.stackit.cloud/token';

/**
 * Endpoints, first set wins: the Secret's `iaas-endpoint` / `token-endpoint`,
 * these options, env STACKIT_IAAS_ENDPOINT / STACKIT_TOKEN_BASEURL, the older
 * aliases STACKIT_API_ENDPOINT / STACKIT_TOKEN_ENDPOINT, the service account
 * key's own tokenEndpoint (token only), the public endpoints. The first env
 * pair are the names Gardener's extension sets on the provider container
 * (gardener-extension-provider-stackit pkg/webhook/controlplane/ensurer.go)
 * and STACKIT's SDK reads (stackit-sdk-go core/auth/auth.go reads
 * STACKIT_TOKEN_BASEURL as the full token URL it POSTs to, core/clients/key_flow.go;
 * the Go provider passes STACKIT_IAAS_ENDPOINT as the IaaS base URL without
 * /v2, machine-controller-manager-provider-stackit pkg/client/sdk.go). Ours
 * have the same meaning.
 */
export interface StackitProviderOptions {
  /** IaaS base URL, e.g. https://iaas.api.stackit.cloud. */
  iaasEndpoint?: string;
  /** The full token URL, e.g. https://service-account.api.stackit.cloud/token. */
  tokenEndpoint?: string;
  httpTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  maxResponseBytes?: number;
}

const validateSpec = compileSchema<StackitProviderSpec>(providerSpecSchema);
/** Status, delete and list use the region (API path) and the labels (the cluster marker) only. */
const validateManageSpec = compileManageSchema<StackitProviderSpec>(providerSpecSchema, ['region', 'labels']);
const validateSecret = compileSchema<StackitSecret>(secretSchema);
const validateKey = compileSchema<ServiceAccountKey>(serviceAccountKeySchema);

/** Machine and class names become a server name and label values: 63 characters of DNS label. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export class StackitProvider implements CloudProvider {
  readonly name = 'STACKIT';
  readonly schemas = { providerSpec: providerSpecSchema, secret: secretSchema };
  /**
   * STACKIT documents no consistency bound for its label_selector listing; a new
   * server was seen listed a few seconds late (issue 12). One minute, as for
   * CloudSigma, whose SDK documents 20 s.
   */
  readonly discoveryWindowMs = 60_000;
  private readonly httpClients = new ClientCache<CloudHttpClient>();

  constructor(private readonly options: StackitProviderOptions = {}) {}

  async open(machineClass: MachineClassRef, secretData: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    const problems: string[] = [];
    const spec = machineClass.providerSpec;
    collect(problems, () => assertValid(purpose === 'create' ? validateSpec : validateManageSpec, spec, 'machineClass.providerSpec'));
    const secret = decodeSecret(secretData) as unknown as StackitSecret;
    collect(problems, () => assertValid(validateSecret, secret, 'secret'));
    const key = secret['serviceaccount.json'] !== undefined ? parseKey(secret, problems) : undefined;
    checkName(machineClass.name, 'machineClass.metadata.name', problems);
    if (!machineClass.namespace) problems.push('machineClass.metadata.namespace: is required (it scopes VMs to this cluster)');
    else checkName(machineClass.namespace, 'machineClass.metadata.namespace', problems);
    if (problems.length > 0) throw new InvalidInputError(problems);

    const validSpec = dropUnset(spec as StackitProviderSpec);
    const iaas = new IaasClient(this.http(secret, key), secret['project-id'], validSpec.region);
    const marker = clusterMarker(validSpec.labels, machineClass.namespace);
    return new StackitSession(iaas, secret['project-id'], validSpec, machineClass, marker, secretData['userData']);
  }

  /** STACKIT's CSI driver names its volumes by the block-storage volume ID. */
  volumeId(pvSpec: Record<string, unknown>): string | undefined {
    const csi = pvSpec['csi'] as { driver?: unknown; volumeHandle?: unknown } | undefined;
    if (csi && csi.driver === STACKIT_CSI_DRIVER && typeof csi.volumeHandle === 'string') return csi.volumeHandle;
    return undefined;
  }

  /**
   * One HTTP client, and so one token cache, per endpoint and credential: a
   * rotated Secret gets a fresh one without a restart, and concurrent calls
   * with the same Secret share one token refresh.
   */
  private http(secret: StackitSecret, key: KeyWithPem | undefined): CloudHttpClient {
    const env = process.env;
    const iaasEndpoint = firstSet(secret['iaas-endpoint'], this.options.iaasEndpoint, env.STACKIT_IAAS_ENDPOINT, env.STACKIT_API_ENDPOINT) ?? DEFAULT_IAAS_ENDPOINT;
    const tokenUrl = key
      ? (firstSet(secret['token-endpoint'], this.options.tokenEndpoint, env.STACKIT_TOKEN_BASEURL, env.STACKIT_TOKEN_ENDPOINT, key.credentials.tokenEndpoint) ?? DEFAULT_TOKEN_ENDPOINT)
      : '';
    const credential = key ? JSON.stringify(key) : secret.token!;
    const id = createHash('sha256').update(`${iaasEndpoint}\n${tokenUrl}\n${credential}`).digest('hex');
    return this.httpClients.get(id, () => {
      // The token flow's header never changes (a 401 cannot be healed by asking again): fixed on the client, no per-request hook.
      // The key flow's token is fetched, cached and renewed, so it is asked for per request and a 401 drops it.
      const tokens = key ? this.keyFlow(key, tokenUrl) : undefined;
      return new CloudHttpClient({
        cloud: 'stackit',
        baseUrl: iaasEndpoint,
        timeoutMs: this.options.httpTimeoutMs,
        retry: this.options.retry,
        maxResponseBytes: this.options.maxResponseBytes,
        ...(tokens
          ? { authorize: (signal?: AbortSignal) => tokens.authorization(signal), unauthorized: (sent: string | undefined) => tokens.invalidate(sent) }
          : { headers: StaticToken.headers(secret.token!) }),
        errorMessage: (body) => (body as { msg?: unknown } | undefined)?.msg as string | undefined,
        isQuota: (status, message) => (status === 400 || status === 403 || status === 409) && isCapacityProblem(message),
      });
    });
  }

  private keyFlow(key: KeyWithPem, tokenUrl: string): AccessTokenSource {
    const { kid, iss, sub, aud } = key.credentials;
    return new ServiceAccountKeyFlow({ kid, iss, sub, aud, privateKeyPem: key.privateKeyPem }, tokenUrl, { timeoutMs: this.options.httpTimeoutMs });
  }
}

type KeyWithPem = ServiceAccountKey & { privateKeyPem: string };

export const STACKIT_CSI_DRIVER = 'block-storage.csi.stackit.cloud';

class StackitSession implements CloudSession {
  constructor(
    private readonly iaas: IaasClient,
    private readonly projectId: string,
    private readonly spec: StackitProviderSpec,
    private readonly machineClass: MachineClassRef,
    private readonly cluster: ClusterMarker,
    private readonly userData: Buffer | undefined,
  ) {}

  async get(providerId: string, signal: AbortSignal): Promise<VmRecord | undefined> {
    const ref = parseProviderId(providerId);
    const server = await this.iaas.forProject(ref.projectId).getServer(ref.serverId, signal);
    return server ? toVmRecord(server, ref.projectId) : undefined;
  }

  async findByMachine(machineName: string, signal: AbortSignal): Promise<VmRecord[]> {
    return this.listByLabels({ [MACHINE_LABEL]: machineName, [this.cluster.key]: this.cluster.value }, signal);
  }

  async create(machine: MachineRef, signal: AbortSignal, hooks: CreateHooks): Promise<VmRecord> {
    const problems: string[] = [];
    checkName(machine.name, 'machine.metadata.name', problems);
    if (problems.length > 0) throw new InvalidInputError(problems);
    const payload = createServerPayload(this.spec, machine, this.machineClass, this.userData);
    hooks.beforeVmRequest();
    const server = await this.iaas.createServer(payload, signal);
    if (!server?.id) throw new MachineError(MachineCode.Unavailable, 'STACKIT create server answered without a server id');
    return toVmRecord(server, this.projectId);
  }

  /** One DELETE: STACKIT deletes a server of any state by itself (no stop first), so the deletion is requested at once. */
  async delete(providerId: string, signal: AbortSignal): Promise<DeleteProgress> {
    const ref = parseProviderId(providerId);
    await this.iaas.forProject(ref.projectId).deleteServer(ref.serverId, signal);
    return 'requested';
  }

  /** IaaS v2 answers a listing in one response (no paging in ListServers): one page. */
  async *list(signal: AbortSignal): AsyncIterable<ListedVm[]> {
    const wanted = { [MACHINE_CLASS_LABEL]: this.machineClass.name, [this.cluster.key]: this.cluster.value };
    // Mapped in the same expression: no local keeps the parsed servers alive while the page is consumed.
    yield listedVms(await this.iaas.listServers(labelSelector(wanted), signal, { details: false }), wanted, this.projectId);
  }

  /**
   * Adds the class's allowedAddresses to the server's NICs in the configured
   * network, as the Go provider's patchNetworkInterfaces does once the server
   * is ACTIVE (machine-controller-manager-provider-stackit pkg/provider/create.go):
   * native-routing CNIs send pod traffic from pod CIDRs, which anti-spoofing
   * drops otherwise. A NIC that already allows every CIDR is not patched, so an
   * adopt or a retry sends nothing new. The addresses reported are the NICs'.
   */
  async completeRunning(vm: VmRecord, signal: AbortSignal): Promise<VmRecord> {
    const wanted = this.spec.allowedAddresses ?? [];
    // Nothing to allow: the server's own NIC view (details=true) already gave the addresses; no extra call to fail.
    if (wanted.length === 0) return vm;
    const serverId = parseProviderId(vm.providerId).serverId;
    const nics = await this.iaas.listServerNics(serverId, signal);
    if (nics.length === 0) throw new MachineError(MachineCode.Unavailable, `STACKIT server ${serverId} has no network interface yet to allow ${wanted.length} address range(s) on`);
    const networking = this.spec.networking;
    const inScope = (nic: { id: string; networkId?: string }) =>
      'networkId' in networking ? nic.networkId === networking.networkId : networking.nicIds.includes(nic.id);
    const result = [];
    for (const nic of nics) {
      const next = inScope(nic) ? withAllowedAddresses(nic.allowedAddresses, wanted) : undefined;
      if (!next || !nic.networkId) {
        result.push(nic);
        continue;
      }
      result.push(await this.iaas.setNicAllowedAddresses(nic.networkId, nic.id, next, signal));
      logger.info('allowed address ranges added to a NIC', { providerId: vm.providerId, nicId: nic.id, added: next.length - (nic.allowedAddresses?.length ?? 0) });
    }
    return { ...vm, addresses: mergeAddresses(nicAddresses(result), vm.addresses) };
  }

  /** The servers carrying `wanted` (isListed), with their addresses (details=true). */
  private async listByLabels(wanted: Record<string, string>, signal: AbortSignal): Promise<VmRecord[]> {
    const servers = await this.iaas.listServers(labelSelector(wanted), signal);
    return servers.filter((s) => isListed(s, wanted)).map((s) => toVmRecord(s, this.projectId));
  }
}

/**
 * The label_selector narrows the listing on the server; the labels are checked
 * again here so a selector the API ignores or reads differently can never put
 * a foreign server into a result MCM may delete from.
 */
function isListed(server: StackitServer, wanted: Record<string, string>): boolean {
  return hasLabels(server, wanted) && Boolean(server.labels?.[MACHINE_LABEL]);
}

function listedVms(servers: readonly StackitServer[], wanted: Record<string, string>, projectId: string): ListedVm[] {
  const out: ListedVm[] = [];
  for (const s of servers) if (isListed(s, wanted)) out.push(toListedVm(s, projectId));
  return out;
}

/** NIC addresses first; a public IP the server listing reported stays (NICs do not carry it). */
function mergeAddresses(fromNics: VmRecord['addresses'], fromServer: VmRecord['addresses']): VmRecord['addresses'] {
  const extra = fromServer.filter((a) => a.type === 'ExternalIP' && !fromNics.some((n) => n.address === a.address));
  return [...fromNics, ...extra];
}

function parseKey(secret: StackitSecret, problems: string[]): KeyWithPem | undefined {
  let key: unknown;
  try {
    key = JSON.parse(secret['serviceaccount.json']!);
  } catch {
    problems.push('secret.serviceaccount.json: is not valid JSON');
    return undefined;
  }
  if (!collect(problems, () => assertValid(validateKey, key, 'secret.serviceaccount.json'))) return undefined;
  const valid = key as ServiceAccountKey;
  const privateKeyPem = valid.credentials.privateKey ?? secret['private-key'];
  if (!privateKeyPem) {
    problems.push('secret.serviceaccount.json.credentials.privateKey: is required unless the Secret has private-key');
    return undefined;
  }
  const field = valid.credentials.privateKey ? 'secret.serviceaccount.json.credentials.privateKey' : 'secret.private-key';
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKeyPem)) {
    problems.push(`${field}: must be a PEM RSA private key`);
    return undefined;
  }
  return { ...valid, privateKeyPem };
}

function checkName(value: string, field: string, problems: string[]): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    problems.push(`${field}: must be at most 63 characters of letters, digits, '-', '_' or '.' (it becomes a STACKIT label value)`);
  }
}
