// The STACKIT side of the benchmarks: the requests the sidecar gets (Machine, MachineClass,
// Secret as the bridge sends them) and a minimal direct client that makes the same cloud HTTP
// calls as the driver does for each RPC (src/driver/machine-driver.ts), on node:http with a
// keep-alive agent. The direct client is the baseline "what the cloud costs anyway".
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServerPayload } from '../../src/providers/stackit/mapping.js';
import { CLUSTER_LABEL, MACHINE_CLASS_LABEL, MACHINE_LABEL, labelSelector } from '../../src/providers/stackit/markers.js';
import { formatProviderId } from '../../src/providers/stackit/provider-id.js';
import type { StackitProviderSpec } from '../../src/providers/stackit/types.js';
import { BASE_SPEC, CLASS_NAME, NAMESPACE, PROJECT_ID, REGION, STATIC_TOKEN, USER_DATA } from '../../test/support/stackit-harness.js';

export { CLASS_NAME, CLUSTER_LABEL, MACHINE_CLASS_LABEL, MACHINE_LABEL, NAMESPACE, PROJECT_ID, REGION };

export const CLASS_LABELS = { [MACHINE_CLASS_LABEL]: CLASS_NAME, [CLUSTER_LABEL]: NAMESPACE };
export const IMAGE_ID = BASE_SPEC.imageId;

const classJson = Buffer.from(JSON.stringify({ metadata: { name: CLASS_NAME, namespace: NAMESPACE }, provider: 'STACKIT', providerSpec: BASE_SPEC }));
const secretData = { 'project-id': Buffer.from(PROJECT_ID), token: Buffer.from(STATIC_TOKEN), userData: Buffer.from(USER_DATA) };

/** A Machine as MCM holds it (the bridge sends the whole object; the sidecar reads name, namespace, providerID). */
function machineJson(name: string, providerID: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      metadata: { name, namespace: NAMESPACE, labels: { node: name } },
      spec: { providerID, class: { kind: 'MachineClass', name: CLASS_NAME } },
      status: { currentStatus: { phase: providerID ? 'Running' : 'Pending' } },
    }),
  );
}

export function machineRequest(name: string, providerID = '') {
  return { machine: machineJson(name, providerID), machineClass: classJson, secretData };
}

export function listRequest() {
  return { machineClass: classJson, secretData };
}

export function providerIdOf(serverId: string): string {
  return formatProviderId(PROJECT_ID, serverId);
}

interface HttpResult {
  status: number;
  body: any;
}

/**
 * The same HTTP calls per RPC as the driver makes, minus everything else the sidecar does
 * (gRPC, validation, got, logging, metrics). Responses are read and parsed as JSON, as any
 * client must. Each method throws on an answer the driver would not have taken as success.
 */
export class DirectStackit {
  private readonly agent = new Agent({ keepAlive: true });
  private readonly base: URL;
  private readonly serversPath = `/v2/projects/${PROJECT_ID}/regions/${REGION}/servers`;
  private readonly auth = `Bearer ${STATIC_TOKEN}`;

  constructor(
    baseUrl: string,
    private readonly pollIntervalMs: number,
  ) {
    this.base = new URL(baseUrl);
  }

  /** GetMachineStatus by spec.providerID: GET server?details=true. */
  async getMachineStatus(serverId: string): Promise<void> {
    const res = await this.call('GET', `${this.serversPath}/${serverId}`, { details: 'true' });
    if (res.status !== 200 || res.body.status !== 'ACTIVE') throw new Error(`direct get: ${res.status}`);
  }

  /** CreateMachine: list by the Machine's labels; adopt the one found, else POST; poll GET until ACTIVE. Returns the server ID. */
  async createMachine(name: string): Promise<{ serverId: string; adopted: boolean }> {
    const found = await this.list({ [MACHINE_LABEL]: name, [CLUSTER_LABEL]: NAMESPACE });
    let server = found[0];
    const adopted = server !== undefined;
    if (!server) {
      const payload = createServerPayload(BASE_SPEC as StackitProviderSpec, { name, namespace: NAMESPACE, providerId: '', lastKnownState: '' }, { name: CLASS_NAME, namespace: NAMESPACE, provider: 'STACKIT', providerSpec: BASE_SPEC }, secretData.userData);
      const res = await this.call('POST', this.serversPath, undefined, payload);
      if (res.status !== 201) throw new Error(`direct create: ${res.status} ${JSON.stringify(res.body)}`);
      server = res.body;
    }
    while (server.status !== 'ACTIVE') {
      await sleep(this.pollIntervalMs);
      const res = await this.call('GET', `${this.serversPath}/${server.id}`, { details: 'true' });
      if (res.status !== 200) throw new Error(`direct create poll: ${res.status}`);
      server = res.body;
    }
    return { serverId: server.id, adopted };
  }

  /** DeleteMachine by providerID: GET, DELETE, then poll GET until 404. */
  async deleteMachine(serverId: string): Promise<void> {
    const path = `${this.serversPath}/${serverId}`;
    let res = await this.call('GET', path, { details: 'true' });
    if (res.status === 200 && res.body.status !== 'DELETING') {
      const del = await this.call('DELETE', path);
      if (del.status !== 204 && del.status !== 404) throw new Error(`direct delete: ${del.status}`);
    }
    while (res.status === 200) {
      await sleep(this.pollIntervalMs);
      res = await this.call('GET', path, { details: 'true' });
    }
    if (res.status !== 404) throw new Error(`direct delete poll: ${res.status}`);
  }

  /** ListMachines: list by class + cluster labels, providerID → Machine name. */
  async listMachines(): Promise<Map<string, string>> {
    const servers = await this.list(CLASS_LABELS);
    const out = new Map<string, string>();
    for (const s of servers) if (s.status !== 'DELETING') out.set(providerIdOf(s.id), s.labels[MACHINE_LABEL]);
    return out;
  }

  close(): void {
    this.agent.destroy();
  }

  private async list(labels: Record<string, string>): Promise<any[]> {
    const res = await this.call('GET', this.serversPath, { details: 'true', label_selector: labelSelector(labels) });
    if (res.status !== 200) throw new Error(`direct list: ${res.status}`);
    return res.body.items;
  }

  private call(method: string, path: string, query?: Record<string, string>, json?: unknown): Promise<HttpResult> {
    const qs = query ? `?${new URLSearchParams(query)}` : '';
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const headers: Record<string, string> = { authorization: this.auth, accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise<HttpResult>((resolve, reject) => {
      const req = httpRequest({ host: this.base.hostname, port: this.base.port, method, path: path + qs, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
          } catch (err) {
            reject(err as Error);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}
