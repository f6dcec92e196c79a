import { createHash } from 'node:crypto';
import { MachineCode } from '../../driver/codes.js';
import { asMachineError } from '../../driver/errors.js';
import { InvalidInputError, MachineError } from '../../driver/machine-error.js';
import type {
  CloudProvider,
  CloudSession,
  CreateHooks,
  DeleteProgress,
  ListedVm,
  MachineClassRef,
  MachineRef,
  SecretData,
  SessionPurpose,
  StepInProgress,
  StillLeft,
  VmRecord,
} from '../../driver/provider.js';
import { assertValid, compileManageSchema, compileSchema } from '../../driver/validation.js';
import { CloudApiError, isCloudApiError } from '../../http/cloud-api-error.js';
import { CloudHttpClient } from '../../http/cloud-http-client.js';
import type { RetryPolicy } from '../../http/retry-policy.js';
import { logger } from '../../observability/logger.js';
import { ClientCache, collect, decodeSecret, firstSet } from '../kit/index.js';
import { CloudSigmaApi } from './api-client.js';
import { BasicAuth, BearerToken, ImpersonationFlow, type CloudSigmaAuth } from './auth.js';
import { formatLeftovers, parseLeftovers } from './leftovers.js';
import {
  apiErrorMessage,
  attachedDrives,
  cloneDriveBody,
  createServerBody,
  driveFits,
  isCapacityProblem,
  isConcurrencyRefusal,
  randomVncPassword,
  toListedVm,
  toVmRecord,
} from './mapping.js';
import { BOOT_DRIVE_KEY, CLUSTER_KEY, MACHINE_CLASS_KEY, MACHINE_KEY, bootDriveName, hasMarkers } from './markers.js';
import { formatProviderId, parseProviderId } from './provider-id.js';
import providerSpecSchema from './provider-spec.schema.json' with { type: 'json' };
import secretSchema from './secret.schema.json' with { type: 'json' };
import type { CloudSigmaDrive, CloudSigmaProviderSpec, CloudSigmaSecret, CloudSigmaServer } from './types.js';

export const DEFAULT_API_ENDPOINT = 'https://{location}.cloudsigma.com/api/2.0/';
/** kube-dc: an impersonated token must be used on the direct host, else resources land in the service account's own user. */
export const DEFAULT_IMPERSONATED_API_ENDPOINT = 'https://direct.{location}.cloudsigma.com/api/2.0/';
export const DEFAULT_OAUTH_ENDPOINT = 'https://oauth.cloudsigma.com';
export const DEFAULT_IMPERSONATION_ENDPOINT = 'https://direct.{location}.cloudsigma.com/service_provider/api/v1/user/impersonate';
export const TOKEN_PATH = '/realms/cloudsigma/protocol/openid-connect/token';
/** The CSI driver of kube-dc's CloudSigma provider (third-party); its volume handle is the drive UUID. */
export const CLOUDSIGMA_CSI_DRIVER = 'csi.cloudsigma.com';

export interface CloudSigmaProviderOptions {
  /** API base URL ({location} is replaced); env CLOUDSIGMA_API_ENDPOINT; a Secret's `api-endpoint` wins. */
  apiEndpoint?: string;
  /** OAuth base URL; env CLOUDSIGMA_OAUTH_ENDPOINT; a Secret's `oauth-endpoint` wins. */
  oauthEndpoint?: string;
  /** Service-provider impersonation URL; env CLOUDSIGMA_IMPERSONATION_ENDPOINT; a Secret's `impersonation-endpoint` wins. */
  impersonationEndpoint?: string;
  httpTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  maxResponseBytes?: number;
  /** Objects per list page (default 500). */
  pageSize?: number;
}

const validateSpec = compileSchema<CloudSigmaProviderSpec>(providerSpecSchema);
/** Delete, status and list use only the location (the API host) of the class. */
const validateManageSpec = compileManageSchema<CloudSigmaProviderSpec>(providerSpecSchema, ['location']);
const validateSecret = compileSchema<CloudSigmaSecret>(secretSchema);

export class CloudSigmaProvider implements CloudProvider {
  readonly name = 'CloudSigma';
  readonly schemas = { providerSpec: providerSpecSchema, secret: secretSchema };
  /**
   * CloudSigma's own SDK gives a listing 20 s to show a new or deleted object
   * (pycloudsigma src/testing/utils.py _verify_list: TIMEOUT = 20, polled every
   * 3 s); three times that before a second create.
   */
  readonly discoveryWindowMs = 60_000;
  private readonly apis = new ClientCache<CloudSigmaApi>();
  private readonly auths = new ClientCache<CloudSigmaAuth>();

  constructor(private readonly options: CloudSigmaProviderOptions = {}) {}

  async open(machineClass: MachineClassRef, secretData: SecretData, purpose: SessionPurpose): Promise<CloudSession> {
    const problems: string[] = [];
    const spec = machineClass.providerSpec;
    collect(problems, () => assertValid(purpose === 'create' ? validateSpec : validateManageSpec, spec, 'machineClass.providerSpec'));
    const secret = decodeSecret(secretData) as CloudSigmaSecret;
    collect(problems, () => assertValid(validateSecret, secret, 'secret'));
    const validSpec = spec as CloudSigmaProviderSpec;
    const location = resolveLocation(spec, secret, problems);
    if (purpose === 'create' && (spec as { vncPassword?: { policy?: unknown } } | null)?.vncPassword?.policy === 'secret' && !secret['vnc-password']) {
      problems.push('secret.vnc-password: is required when machineClass.providerSpec.vncPassword.policy is secret');
    }
    const { cpu, smp } = (spec ?? {}) as { cpu?: unknown; smp?: unknown };
    // CloudSigma's Terraform provider (cloudsigma/resource_cloudsigma_server.go validateSMP): "the minimum amount of cpu per smp is 1000".
    if (Number.isInteger(cpu) && Number.isInteger(smp) && (smp as number) > 0 && (cpu as number) < 1000 * (smp as number)) {
      problems.push(`machineClass.providerSpec.cpu: ${String(cpu)} MHz for ${String(smp)} cores is less than the 1000 MHz per core CloudSigma requires (raise cpu or lower smp)`);
    }
    if (!machineClass.name) problems.push('machineClass.metadata.name: is required');
    if (!machineClass.namespace) problems.push('machineClass.metadata.namespace: is required (it scopes servers to this cluster)');
    if (problems.length > 0) throw new InvalidInputError(problems);

    const { auth, id } = this.auth(secret, location);
    if (auth.impersonating) logger.info('cloudsigma: acting as impersonated user', { impersonatedUser: auth.actingAs, location });
    else logger.debug('cloudsigma: acting as the Secret’s user', { location });
    const api = this.api(secret, location, auth, id);
    return new CloudSigmaSession(api, auth, validSpec, machineClass, location, secretData['userData'], secret['vnc-password']);
  }

  volumeId(pvSpec: Record<string, unknown>): string | undefined {
    const csi = pvSpec['csi'] as { driver?: unknown; volumeHandle?: unknown } | undefined;
    if (csi && csi.driver === CLOUDSIGMA_CSI_DRIVER && typeof csi.volumeHandle === 'string') return csi.volumeHandle;
    return undefined;
  }

  /** One credential source per credential, so a token cache is shared by concurrent calls and a rotated Secret gets a fresh one. */
  private auth(secret: CloudSigmaSecret, location: string): { auth: CloudSigmaAuth; id: string } {
    const impersonate = secret['impersonate-user'];
    const env = process.env;
    const tokenUrl = impersonate ? `${trimSlash(firstSet(secret['oauth-endpoint'], this.options.oauthEndpoint, env.CLOUDSIGMA_OAUTH_ENDPOINT) ?? DEFAULT_OAUTH_ENDPOINT)}${TOKEN_PATH}` : '';
    const impersonationUrl = impersonate
      ? withLocation(firstSet(secret['impersonation-endpoint'], this.options.impersonationEndpoint, env.CLOUDSIGMA_IMPERSONATION_ENDPOINT) ?? DEFAULT_IMPERSONATION_ENDPOINT, location)
      : '';
    const id = digest([
      location,
      secret.username ?? '',
      secret.password ?? '',
      secret.token ?? '',
      secret['oauth-client-id'] ?? '',
      secret['oauth-client-secret'] ?? '',
      impersonate ?? '',
      tokenUrl,
      impersonationUrl,
    ]);
    const auth = this.auths.get(id, () => {
      if (impersonate) {
        return new ImpersonationFlow({
          clientId: secret['oauth-client-id']!,
          clientSecret: secret['oauth-client-secret']!,
          user: impersonate,
          location,
          tokenUrl,
          impersonationUrl,
          timeoutMs: this.options.httpTimeoutMs,
        });
      }
      return secret.token ? new BearerToken(secret.token) : new BasicAuth(secret.username!, secret.password!);
    });
    return { auth, id };
  }

  private api(secret: CloudSigmaSecret, location: string, auth: CloudSigmaAuth, authId: string): CloudSigmaApi {
    const template =
      firstSet(secret['api-endpoint'], this.options.apiEndpoint, process.env.CLOUDSIGMA_API_ENDPOINT) ??
      (auth.impersonating ? DEFAULT_IMPERSONATED_API_ENDPOINT : DEFAULT_API_ENDPOINT);
    const baseUrl = withSlash(withLocation(template, location));
    const key = `${baseUrl}\n${authId}`;
    return this.apis.get(key, () => {
      const common = {
        cloud: 'cloudsigma',
        baseUrl,
        timeoutMs: this.options.httpTimeoutMs,
        retry: this.options.retry,
        maxResponseBytes: this.options.maxResponseBytes,
        authorize: (signal?: AbortSignal) => auth.authorization(signal),
        unauthorized: (sent: string | undefined) => auth.invalidate(sent),
        errorMessage: apiErrorMessage,
        isQuota: isCapacityProblem,
        isNotApplied: isConcurrencyRefusal,
        // Capacity is a 503 at CloudSigma (cloudsigma-docs general.rst), so 5xx bodies are read too.
        readServerErrorBodies: true,
      };
      const http = new CloudHttpClient(common);
      // Start and stop create nothing: a repeated one is harmless, so POST is retried on this client only.
      const actions = new CloudHttpClient({ ...common, retryMethods: ['GET', 'PUT', 'DELETE', 'POST'] });
      return new CloudSigmaApi(http, actions, auth, this.options.pageSize ?? 500);
    });
  }
}

class CloudSigmaSession implements CloudSession {
  private readonly clusterMarkers: { [CLUSTER_KEY]: string };

  constructor(
    private readonly api: CloudSigmaApi,
    private readonly auth: CloudSigmaAuth,
    private readonly spec: CloudSigmaProviderSpec,
    private readonly machineClass: MachineClassRef,
    private readonly location: string,
    private readonly userData: Buffer | undefined,
    private readonly vncSecret: string | undefined,
  ) {
    this.clusterMarkers = { [CLUSTER_KEY]: machineClass.namespace };
  }

  async get(providerId: string, signal: AbortSignal): Promise<VmRecord | undefined> {
    const uuid = parseProviderId(providerId);
    const server = await this.readServer(uuid, signal);
    return server ? this.record(server) : undefined;
  }

  async findByMachine(machineName: string, signal: AbortSignal): Promise<VmRecord[]> {
    return (await this.serversOfMachine(machineName, signal)).map((s) => this.record(s));
  }

  /** Page by page (CloudSigmaApi.listServerPages): the acting user's servers with this cluster's and this class's markers. */
  async *list(signal: AbortSignal): AsyncIterable<ListedVm[]> {
    const wanted = { ...this.clusterMarkers, [MACHINE_CLASS_KEY]: this.machineClass.name };
    for await (const page of this.api.listServerPages(signal)) {
      const out: ListedVm[] = [];
      for (const s of await this.own(page, signal)) {
        if (!hasMarkers(s.meta, wanted) || typeof s.meta?.[MACHINE_KEY] !== 'string' || s.meta[MACHINE_KEY] === '') continue;
        // One whose deletion this process started counts as deleting until it answers 404 (as record() does).
        const vm = toListedVm(s);
        out.push(this.api.deletionStarted.has(s.uuid) ? { ...vm, state: 'deleting' } : vm);
      }
      yield out;
    }
  }

  /**
   * One pass, after the Machine's servers are gone (the driver waited for
   * their 404): are the Machine's boot drives gone too? A recurse delete
   * removes them by itself, later (pycloudsigma test_servers.py waits for each
   * drive's 404 after the server's); a server that had other drives attached
   * was deleted alone, and its boot drive is deleted here. The DELETE is
   * repeated on each pass (harmless: an already deleted drive answers 404) and
   * the drives still listed are answered as still left: MachineDriver calls
   * again on its next poll until none is. Any failure fails DeleteMachine, so
   * MCM calls again and this runs again: the drive carries the Machine's
   * boot-drive name, so a drive that did not go is never forgotten.
   */
  async releaseMachine(machineName: string, signal: AbortSignal): Promise<StillLeft> {
    if ((await this.serversOfMachine(machineName, signal)).length > 0) return undefined; // a twin of the Machine still uses its drive
    const name = bootDriveName(this.machineClass.namespace, machineName);
    const drives = await this.own(await this.api.listDrivesNamed(name, signal), signal);
    if (drives.length === 0) return undefined;
    const inUse = drives.filter((d) => (d.mounted_on?.length ?? 0) > 0 || d.status === 'mounted');
    if (inUse.length > 0) {
      // Attached to a server that is not this Machine's (no server of the Machine is left): not ours to pull away.
      logger.warn('cloudsigma: a boot drive of a deleted machine is attached elsewhere; it is kept', { drives: inUse.map((d) => d.uuid), location: this.location });
    }
    const free = drives.filter((d) => !inUse.includes(d));
    if (free.length === 0) return undefined;
    const failed: string[] = [];
    for (const d of free) {
      await this.api.deleteDrive(d.uuid, signal).catch((err: unknown) => {
        if (signal.aborted) throw err;
        failed.push(`${d.uuid} (${asMachineError(err).message})`);
      });
    }
    if (failed.length > 0) {
      throw new MachineError(
        MachineCode.Unavailable,
        `the server of machine ${machineName} is deleted, but removing its boot drive failed at location ${this.location}: ${failed.join('; ')}; the next DeleteMachine retries`,
      );
    }
    return `boot drive ${free.map((d) => d.uuid).join(', ')} at location ${this.location}`;
  }

  /** A server as a VmRecord; one whose deletion this process started counts as deleting until it answers 404. */
  private record(server: CloudSigmaServer): VmRecord {
    const vm = toVmRecord(server);
    return this.api.deletionStarted.has(server.uuid) ? { ...vm, state: 'deleting' } : vm;
  }

  /** Only the acting user's objects: listings also carry what other accounts shared through ACLs (cloudsigma-docs acls.rst). */
  private async own<T extends { owner?: { uuid?: string } | null }>(objects: T[], signal: AbortSignal): Promise<T[]> {
    if (objects.length === 0) return objects;
    const me = await this.api.actingUser(signal);
    return objects.filter((o) => o.owner?.uuid === me);
  }

  /**
   * Clone the boot drive (or continue with one an earlier attempt left), and
   * once it is ready create the server with it. A clone still running is
   * answered as StepInProgress naming the drive: MachineDriver waits and
   * calls again, and this call continues with that drive (never a second
   * clone). The server is answered as CloudSigma made it, stopped (servers.rst:
   * a new server does not boot by itself): MachineDriver starts it (start()).
   * Nothing is removed here after a failure: the boot drive carries the
   * Machine's boot-drive name and is named in lastKnownState, so the next
   * create uses it; MachineDriver removes it (releaseMachine, which never
   * touches a drive a server holds) after a refusal that needs a human and on
   * DeleteMachine.
   */
  async create(machine: MachineRef, signal: AbortSignal, hooks: CreateHooks): Promise<VmRecord | StepInProgress> {
    if (!machine.name || machine.name.length > 253) {
      throw new InvalidInputError(['machine.metadata.name: must be 1-253 characters (it becomes the server name)']);
    }
    const drive = await this.bootDrive(machine, hooks, signal);
    if ('stepInProgress' in drive) return drive;
    const vnc = this.spec.vncPassword?.policy === 'secret' ? this.vncSecret! : randomVncPassword(this.spec.vncPassword?.length ?? 16);
    const body = createServerBody(this.spec, machine, this.machineClass, drive.uuid, vnc, this.userData);
    hooks.beforeVmRequest();
    let server: CloudSigmaServer;
    try {
      server = await this.api.createServer(body, signal);
    } catch (err) {
      throw this.withKeptDrive(err, drive.uuid, 'create server', signal);
    }
    logger.info('cloudsigma server created, stopped until the driver starts it', { providerId: formatProviderId(server.uuid), bootDrive: drive.uuid, location: this.location });
    return toVmRecord(server);
  }

  /** One start request; an error is judged by MachineDriver (it reads the server: one starting was started). */
  async start(providerId: string, signal: AbortSignal): Promise<void> {
    await this.api.startServer(parseProviderId(providerId), signal);
  }

  /** One step: stop a running server ('call again'), or delete a stopped one with the boot drive the driver made. Gone is 'requested'. */
  async delete(providerId: string, signal: AbortSignal): Promise<DeleteProgress> {
    return this.deleteServer(parseProviderId(providerId), signal);
  }

  // ---- lookups ----

  private async serversOfMachine(machineName: string, signal: AbortSignal): Promise<CloudSigmaServer[]> {
    const wanted = { ...this.clusterMarkers, [MACHINE_KEY]: machineName };
    return (await this.own(await this.api.listServers(signal), signal)).filter((s) => hasMarkers(s.meta, wanted));
  }

  /**
   * A 403 means the server exists but this user may not see it: PermissionDenied, never "gone".
   * A server another account shared with this user (its owner is not the acting user) is not ours either.
   */
  private async readServer(uuid: string, signal: AbortSignal): Promise<CloudSigmaServer | undefined> {
    let server: CloudSigmaServer | undefined;
    try {
      server = await this.api.getServer(uuid, signal);
    } catch (err) {
      if (isCloudApiError(err) && err.status === 403) throw this.notAccessible(uuid, err);
      throw err;
    }
    if (server && (await this.own([server], signal)).length === 0) {
      throw new MachineError(
        MachineCode.PermissionDenied,
        `CloudSigma server ${uuid} at ${this.location} belongs to another account (owner ${server.owner?.uuid ?? 'not stated'}), which shares it with ${this.who()}: ` +
          'the driver never adopts, changes or deletes it; check the providerID, or remove the server by hand',
      );
    }
    return server;
  }

  private notAccessible(uuid: string, err: CloudApiError): MachineError {
    const cloud = err.fields.cloudMessage ? ` (CloudSigma: ${err.fields.cloudMessage})` : '';
    return new MachineError(
      MachineCode.PermissionDenied,
      `CloudSigma server ${uuid} at ${this.location} exists but ${this.who()} may not access it${cloud}: it was probably made by another user. ` +
        'The driver does not treat it as gone; check which user the Secret acts as, or remove the server by hand',
      {},
      { cause: err },
    );
  }

  private who(): string {
    if (this.auth.impersonating) return 'the impersonated user (Secret key impersonate-user)';
    return this.auth instanceof BearerToken ? 'the user of the Secret’s token' : 'the Secret’s user';
  }

  // ---- create steps ----

  /** The boot drive, ready (status unmounted), or its clone in progress: one left by an earlier attempt, else a fresh clone. */
  private async bootDrive(machine: MachineRef, hooks: CreateHooks, signal: AbortSignal): Promise<CloudSigmaDrive | StepInProgress> {
    const name = bootDriveName(this.machineClass.namespace, machine.name);
    const leftovers = await this.leftoverDrives(name, machine, signal);
    // A drive whose deletion started (e.g. with the server of a failed create) is on its way out: never adopted.
    const usable = leftovers.filter((d) => !this.api.deletionStarted.has(d.uuid) && driveFits(this.spec, d));
    const adopt = usable.find((d) => d.status === 'unmounted') ?? usable.find((d) => CLONING.has(d.status ?? ''));
    // The clone a waiting call named (StepInProgress, or MCM's next call) ended in a state it never leaves (unavailable):
    // the clone failed. Said so, instead of silently cloning again; the next call clones anew.
    const named = parseLeftovers(machine.lastKnownState).leftDrives;
    const broken = adopt ? undefined : leftovers.find((d) => named.includes(d.uuid) && d.status !== 'unmounted' && !CLONING.has(d.status ?? ''));
    for (const d of leftovers) {
      if (d === adopt || d === broken) continue;
      // An extra or unusable leftover: removed now, or (if that fails) by a later call.
      await this.api.deleteDrive(d.uuid, signal).then(
        () => logger.info('cloudsigma: removed a boot drive left by an earlier attempt', { drive: d.uuid, status: d.status }),
        (err: unknown) => logger.warn('cloudsigma: could not remove a leftover boot drive, a later call retries', { drive: d.uuid, error: asMachineError(err).message }),
      );
    }
    if (broken) throw await this.failedClone(broken, signal);
    let uuid: string;
    if (adopt) {
      logger.info('cloudsigma: continuing with the boot drive an earlier attempt made', { drive: adopt.uuid, status: adopt.status });
      uuid = adopt.uuid;
    } else {
      uuid = (await this.cloneBootDrive(name, hooks, signal)).uuid;
    }
    try {
      return await this.readyDrive(uuid, signal);
    } catch (err) {
      throw this.withKeptDrive(err, uuid, 'prepare boot drive', signal);
    }
  }

  /** Unattached drives of the account with this Machine's boot-drive name, plus the ones lastKnownState names. */
  private async leftoverDrives(name: string, machine: MachineRef, signal: AbortSignal): Promise<CloudSigmaDrive[]> {
    const found = new Map<string, CloudSigmaDrive>();
    for (const d of await this.api.listDrivesNamed(name, signal)) found.set(d.uuid, d);
    for (const uuid of parseLeftovers(machine.lastKnownState).leftDrives) {
      if (found.has(uuid)) continue;
      const d = await this.api.getDrive(uuid, signal).catch(() => undefined);
      if (d) found.set(uuid, d);
    }
    // Never touch a drive that is not this Machine's boot drive, is in use, or is not the acting user's own.
    const own = await this.own([...found.values()], signal);
    return own.filter((d) => d.name === name && (d.mounted_on?.length ?? 0) === 0 && d.status !== 'mounted');
  }

  /**
   * The clone, sent as a step request: a lost answer is MachineDriver's rule
   * (hooks.stepRequest), which looks the drive up by its name here before it
   * would let a second clone go.
   */
  private async cloneBootDrive(name: string, hooks: CreateHooks, signal: AbortSignal): Promise<CloudSigmaDrive> {
    const source = this.spec.bootDrive.source;
    const body = cloneDriveBody(this.spec, name);
    const drive = await hooks.stepRequest(
      'boot drive clone',
      () => ('libraryDrive' in source ? this.api.cloneLibraryDrive(source.libraryDrive, body, signal) : this.api.cloneDrive(source.drive, body, signal)),
      async () => {
        const named = await this.own(await this.api.listDrivesNamed(name, signal), signal);
        return named.find((d) => (d.mounted_on?.length ?? 0) === 0 && !this.api.deletionStarted.has(d.uuid));
      },
    );
    logger.info('cloudsigma: cloning boot drive', { drive: drive.uuid, location: this.location });
    return drive;
  }

  /**
   * One read of the boot drive: ready, or its clone still running (answered
   * as StepInProgress; the waiting is MachineDriver's). lastKnownState names
   * the drive, so the next create() continues with it even when the listing
   * by name does not show it yet.
   */
  private async readyDrive(uuid: string, signal: AbortSignal): Promise<CloudSigmaDrive | StepInProgress> {
    const drive = await this.api.getDrive(uuid, signal);
    if (!drive) throw new DriveNotOursAnyMore(MachineCode.Unavailable, `the boot drive ${uuid} disappeared while it was being cloned`);
    if (drive.status === 'unmounted') return drive;
    if (drive.status === 'mounted' || (drive.mounted_on?.length ?? 0) > 0) {
      throw new DriveNotOursAnyMore(MachineCode.Aborted, `the boot drive ${uuid} was attached to another server while it was being prepared`);
    }
    if (!CLONING.has(drive.status ?? '')) throw await this.failedClone(drive, signal);
    return {
      stepInProgress: {
        step: 'boot drive clone',
        waitingFor: `drive ${uuid} is ${drive.status}`,
        lastKnownState: formatLeftovers({ location: this.location, step: 'prepare boot drive', leftDrives: [uuid] }),
      },
    };
  }

  /**
   * A clone that ended in a state it never leaves (unavailable): the drive
   * can never be used, so it is removed (one request; if that fails, the next
   * create finds it by its name as an unusable leftover and removes it), and
   * the failure says so. Nothing of it is kept for the next create.
   */
  private async failedClone(drive: CloudSigmaDrive, signal: AbortSignal): Promise<MachineError> {
    const removed = await this.api.deleteDrive(drive.uuid, signal).then(
      () => true,
      () => false,
    );
    const next = removed ? 'it is removed and the next CreateMachine clones a new one' : 'removing it failed, the next CreateMachine removes it and clones a new one';
    return new DriveNotOursAnyMore(MachineCode.Unavailable, `cloning the boot drive failed: drive ${drive.uuid} is ${drive.status ?? 'in an unknown state'}; ${next}`);
  }

  /**
   * A create step failed with the boot drive made: lastKnownState names the
   * drive, so the next create uses it even when the listing by name does not
   * show it yet (MachineDriver removes it instead when the refusal needs a
   * human), except when the drive is gone or in use by another server, which
   * leaves nothing of ours to keep.
   */
  private withKeptDrive(err: unknown, drive: string, step: string, signal: AbortSignal): MachineError {
    const failure = asMachineError(err, signal, step);
    if (err instanceof DriveNotOursAnyMore) return failure;
    const lastKnownState = formatLeftovers({ location: this.location, step, leftDrives: [drive] });
    return new MachineError(failure.code, failure.message, { ...failure.details, lastKnownState }, { cause: failure.cause });
  }

  // ---- delete ----

  /**
   * One step of a deletion, never a wait: a server that is not stopped is
   * asked to stop (a stopping one is left alone) and the answer is 'call
   * again' (servers.rst: only a stopped server can be deleted); a stopped one
   * gets the DELETE. MachineDriver repeats this until the DELETE went, and
   * waits for the 404. Deletion is asynchronous (cloudsigma-docs servers.rst
   * "204: No content, object deletion started"), so nothing here deletes a
   * drive the server still holds: with only the driver's boot drive attached,
   * recurse=all_drives lets the API delete it with the server; with other
   * drives attached the server goes alone, and its boot drive is removed by
   * releaseMachine once the server is gone.
   */
  private async deleteServer(uuid: string, signal: AbortSignal): Promise<DeleteProgress> {
    const server = await this.readServer(uuid, signal);
    if (!server) return 'requested';
    if (server.status !== 'stopped') {
      if (server.status !== 'stopping') await this.stopServer(uuid, signal);
      return 'call again';
    }
    const drives = attachedDrives(server);
    const boot = server.meta?.[BOOT_DRIVE_KEY];
    if (drives.every((d) => d === boot)) {
      await this.api.deleteServer(uuid, 'all_drives', signal, drives);
      return 'requested';
    }
    await this.api.deleteServer(uuid, undefined, signal);
    logger.warn('cloudsigma: server had drives the driver did not make; they were kept, its boot drive is removed once the server is gone', {
      providerId: formatProviderId(uuid),
      keptDrives: drives.filter((d) => d !== boot),
    });
    return 'requested';
  }

  private async stopServer(uuid: string, signal: AbortSignal): Promise<void> {
    try {
      await this.api.stopServer(uuid, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const server = await this.api.getServer(uuid, signal).catch(() => undefined);
      if (!server || server.status === 'stopping' || server.status === 'stopped') return;
      throw err;
    }
  }
}

/** Drive states on the way to `unmounted` (Terraform waits on the same ones). */
const CLONING = new Set(['cloning_dst', 'creating', 'resizing', 'copying']);

/** A boot drive that is gone, or attached to a server that is not the Machine's: nothing of ours to keep. */
class DriveNotOursAnyMore extends MachineError {}

function resolveLocation(spec: unknown, secret: CloudSigmaSecret, problems: string[]): string {
  const fromSpec = (spec as { location?: unknown } | null)?.location;
  const specLocation = typeof fromSpec === 'string' ? fromSpec : undefined;
  if (specLocation && secret.location && specLocation !== secret.location) {
    problems.push(
      `machineClass.providerSpec.location: "${specLocation}" differs from the Secret's location "${secret.location}" (CloudSigma accounts are per location)`,
    );
  }
  const location = specLocation ?? secret.location;
  if (!location && fromSpec === undefined) problems.push('machineClass.providerSpec.location: is required unless the Secret has a location key');
  return location ?? '';
}

function withLocation(template: string, location: string): string {
  return template.replace(/\{location\}/g, location);
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function digest(parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
