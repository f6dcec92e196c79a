// A small Kubernetes REST client for the e2e suite: reads a kubeconfig (client
// certificate or token, CA data or file), keeps one keep-alive connection pool,
// and speaks JSON. Polling through it costs far less CPU than spawning kubectl
// every second on a 2-core machine. kubectl is used only for kustomize
// rendering and server-side dry runs (see ../controlplane/controlplane.ts).

import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import { parse as parseYaml } from 'yaml';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: Array<{ kind: string; name: string }>;
  };
  // Deliberately loose: the suite reads many kinds.
  spec?: any;
  status?: any;
  [key: string]: any;
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    super(`${method} ${path} -> ${status}: ${body.slice(0, 500)}`);
  }
}

interface Connection {
  server: URL;
  tls: https.AgentOptions;
  token?: string;
}

function readKubeconfig(file: string): Connection {
  const cfg: any = parseYaml(readFileSync(file, 'utf8'));
  const ctxName = cfg['current-context'];
  const ctx = (cfg.contexts ?? []).find((c: { name: string }) => c.name === ctxName)?.context ?? cfg.contexts?.[0]?.context;
  if (!ctx) throw new Error(`${file}: no context`);
  const cluster = (cfg.clusters ?? []).find((c: { name: string }) => c.name === ctx.cluster)?.cluster;
  const user = (cfg.users ?? []).find((u: { name: string }) => u.name === ctx.user)?.user ?? {};
  if (!cluster?.server) throw new Error(`${file}: no cluster server for context ${ctxName}`);
  const data = (inline: string | undefined, fileRef: string | undefined): Buffer | undefined =>
    inline ? Buffer.from(inline, 'base64') : fileRef ? readFileSync(fileRef) : undefined;
  const tls: https.AgentOptions = {
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: data(user['client-certificate-data'], user['client-certificate']),
    key: data(user['client-key-data'], user['client-key']),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
  };
  const token: string | undefined = user.token ?? (user.tokenFile ? readFileSync(user.tokenFile, 'utf8').trim() : undefined);
  return { server: new URL(cluster.server), tls, token };
}

export type PatchType = 'merge' | 'json' | 'strategic';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export class KubeClient {
  private readonly conn: Connection;
  private readonly agent: http.Agent;

  constructor(readonly kubeconfig: string) {
    this.conn = readKubeconfig(kubeconfig);
    this.agent =
      this.conn.server.protocol === 'https:'
        ? new https.Agent({ ...this.conn.tls, keepAlive: true, maxSockets: 8 })
        : new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  close(): void {
    this.agent.destroy();
  }

  async request<T = KubeObject>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(path, this.conn.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const mod = url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: 30_000,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
            ...(this.conn.token ? { authorization: `Bearer ${this.conn.token}` } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(payload);
    });
    if (status < 200 || status >= 300) throw new KubeError(status, method, path, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** undefined on 404. */
  async get<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T = KubeObject>(path: string, labelSelector?: string): Promise<T[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const r = await this.request<{ items: T[] }>('GET', `${path}${q}`);
    return r.items ?? [];
  }

  create<T = KubeObject>(collectionPath: string, obj: unknown): Promise<T> {
    return this.request<T>('POST', collectionPath, obj);
  }

  /** Create, or replace what is there (keeping its resourceVersion). */
  async upsert<T extends KubeObject = KubeObject>(collectionPath: string, obj: T): Promise<T> {
    try {
      return await this.create<T>(collectionPath, obj);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
      const itemPath = `${collectionPath}/${obj.metadata.name}`;
      const current = await this.request<KubeObject>('GET', itemPath);
      const next = { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } };
      return this.request<T>('PUT', itemPath, next);
    }
  }

  patch<T = KubeObject>(path: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.request<T>('PATCH', path, patch, PATCH_CONTENT_TYPE[type]);
  }

  /** true if something was deleted (or is being deleted), false on 404. */
  async delete(path: string): Promise<boolean> {
    try {
      await this.request('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' });
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return false;
      throw err;
    }
  }
}

/** API paths of the objects the suite uses. */
export const paths = {
  namespaces: () => '/api/v1/namespaces',
  secrets: (ns: string) => `/api/v1/namespaces/${ns}/secrets`,
  nodes: () => '/api/v1/nodes',
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  mcm: (ns: string, plural: 'machines' | 'machineclasses' | 'machinesets' | 'machinedeployments') =>
    `/apis/machine.sapcloud.io/v1alpha1/namespaces/${ns}/${plural}`,
};

export async function ensureNamespace(kube: KubeClient, name: string): Promise<void> {
  try {
    await kube.create(paths.namespaces(), { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (err) {
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  }
}
