// A short check of CreateServerPayload inside the fake itself, so that tests which talk to the
// fake without Prism in front still get the 400s the real API gives. Prism (with the spec) is the
// thorough check; this covers what the fake needs to build a server, plus the rules most likely
// to be broken by an adapter. Messages imitate the real API (kin-openapi style).
import type { BootVolumeSource, CreateServerNetworking } from './types.js';

export interface CreateServerPayload {
  name: string;
  machineType: string;
  networking: CreateServerNetworking;
  imageId?: string;
  labels?: Record<string, string>;
  securityGroups?: string[];
  userData?: string;
  bootVolume?: { size?: number; performanceClass?: string; deleteOnTermination?: boolean; source: BootVolumeSource };
  volumes?: string[];
  keypairName?: string;
  availabilityZone?: string;
  affinityGroup?: string;
  serviceAccountMails?: string[];
  agent?: { provisioned?: boolean };
  metadata?: Record<string, unknown>;
  configDrive?: boolean;
}

export type Validation = { ok: true; payload: CreateServerPayload } | { ok: false; msg: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SERVER_NAME =
  /^(([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function schemaError(pointer: string, reason: string): Validation {
  return { ok: false, msg: `request body has an error: doesn't match schema: Error at "${pointer}": ${reason}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function validateCreateServer(body: unknown): Validation {
  if (!isObject(body)) return schemaError('/', 'value must be an object');

  for (const field of ['name', 'machineType', 'networking'] as const) {
    if (body[field] === undefined) return schemaError(`/${field}`, `property "${field}" is missing`);
  }
  if (typeof body.name !== 'string') return schemaError('/name', 'value must be a string');
  if (body.name.length > 63 || !SERVER_NAME.test(body.name)) {
    return schemaError('/name', 'string doesn\'t match the regular expression or is too long');
  }
  if (typeof body.machineType !== 'string' || body.machineType === '') {
    return { ok: false, msg: 'machine type is not valid' };
  }

  const networking = body.networking;
  if (!isObject(networking)) return schemaError('/networking', 'value must be an object');
  const hasNetwork = networking.networkId !== undefined;
  const hasNics = networking.nicIds !== undefined;
  if (hasNetwork === hasNics || Object.keys(networking).length !== 1) {
    return schemaError('/networking', 'value must match exactly one schema of oneOf (networkId | nicIds)');
  }
  if (hasNetwork && !isUuid(networking.networkId)) return { ok: false, msg: 'invalid uuid' };
  if (hasNics && !(Array.isArray(networking.nicIds) && networking.nicIds.every(isUuid))) {
    return { ok: false, msg: 'invalid uuid' };
  }

  if (body.imageId !== undefined && !isUuid(body.imageId)) return { ok: false, msg: 'invalid uuid' };
  if (body.labels !== undefined) {
    if (!isObject(body.labels) || !Object.values(body.labels).every((v) => typeof v === 'string')) {
      return schemaError('/labels', 'label values must be strings');
    }
  }
  if (body.userData !== undefined && (typeof body.userData !== 'string' || !BASE64.test(body.userData))) {
    return schemaError('/userData', 'value must be base64 encoded');
  }
  if (body.serviceAccountMails !== undefined) {
    if (!Array.isArray(body.serviceAccountMails)) return schemaError('/serviceAccountMails', 'value must be an array');
    if (body.serviceAccountMails.length > 1) {
      return schemaError('/serviceAccountMails', 'maximum number of items is 1');
    }
  }
  if (body.volumes !== undefined && !(Array.isArray(body.volumes) && body.volumes.every(isUuid))) {
    return { ok: false, msg: 'invalid uuid' };
  }

  if (body.bootVolume !== undefined) {
    const bootVolume = body.bootVolume;
    if (!isObject(bootVolume)) return schemaError('/bootVolume', 'value must be an object');
    const source = bootVolume.source;
    if (!isObject(source)) return schemaError('/bootVolume/source', 'property "source" is missing');
    // BootVolumeSourceTypes is a plain string in the vendor spec; its prose lists image and volume.
    // STACKIT's Go provider also sends snapshot (machine-controller-manager-provider-stackit
    // pkg/provider/apis/validation/validation.go), so the fake stores it like an image source.
    if (source.type !== 'image' && source.type !== 'volume' && source.type !== 'snapshot') {
      return schemaError('/bootVolume/source/type', 'value must be one of "image", "snapshot", "volume"');
    }
    if (!isUuid(source.id)) return { ok: false, msg: 'invalid uuid' };
    // A size, when sent, must be a positive integer (the vendor's InvalidBootDeviceSize example,
    // "boot device size is not valid or missing"). A missing size is accepted: the vendor schema
    // does not require it and STACKIT's Go provider omits it when unset (pkg/client/sdk.go,
    // CreateServer: SetSize only if > 0), relying on the image's size. [unconfirmed against the
    // real API: ../shared/docs/cloud-apis.md §1.3 says Terraform requires it for image sources;
    // if the real API refuses, its 400 reaches MCM as InvalidArgument with this message.]
    const size = bootVolume.size;
    if (size !== undefined && !(typeof size === 'number' && Number.isInteger(size) && size > 0)) {
      return { ok: false, msg: 'boot device size is not valid or missing' };
    }
  } else if (body.imageId === undefined) {
    return { ok: false, msg: 'boot device is missing: give imageId or bootVolume' };
  }

  // Shape checked above for everything the fake reads; the rest is stored as sent.
  return { ok: true, payload: body as unknown as CreateServerPayload };
}
