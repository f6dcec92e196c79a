import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudProvider } from '../driver/provider.js';
import type { ProviderRegistry } from '../driver/provider-registry.js';

const REF = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string' }, namespace: { type: 'string' } },
};

/**
 * Whole-document schemas for editors (yaml-language-server): a MachineClass
 * with this provider's providerSpec, and a Secret whose stringData offers this
 * provider's keys. The providerSpec part is the very schema the sidecar uses.
 */
export function editorSchemas(provider: CloudProvider): Record<string, object> {
  const { providerSpec, secret } = provider.schemas ?? { providerSpec: {}, secret: {} };
  // `$defs` move to the document root so the spec's `#/$defs/...` references still resolve when embedded.
  const { $schema: _s, $id: _i, $defs, ...spec } = providerSpec as Record<string, unknown>;
  const { $schema: _s2, $id: _i2, required: _r, oneOf: _o, 'x-error': _x, ...secretKeys } = secret as Record<string, unknown>;
  const id = provider.name.toLowerCase();
  return {
    [`${id}-machine-class.schema.json`]: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: `MachineClass for ${provider.name}`,
      type: 'object',
      additionalProperties: false,
      required: ['apiVersion', 'kind', 'metadata', 'provider', 'providerSpec'],
      properties: {
        apiVersion: { const: 'machine.sapcloud.io/v1alpha1' },
        kind: { const: 'MachineClass' },
        metadata: { type: 'object', required: ['name', 'namespace'] },
        provider: { type: 'string', description: `${provider.name} (matched case-insensitively)` },
        providerSpec: spec,
        secretRef: REF,
        credentialsSecretRef: REF,
        nodeTemplate: { type: 'object' },
      },
      ...($defs ? { $defs } : {}),
    },
    [`${id}-secret.schema.json`]: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: `Secret of a ${provider.name} MachineClass`,
      type: 'object',
      required: ['apiVersion', 'kind', 'metadata'],
      properties: {
        apiVersion: { const: 'v1' },
        kind: { const: 'Secret' },
        metadata: { type: 'object' },
        type: { type: 'string' },
        data: { type: 'object', additionalProperties: { type: 'string', contentEncoding: 'base64' } },
        stringData: secretKeys,
      },
    },
    [`${id}-provider-spec.schema.json`]: providerSpec,
  };
}

/** `mcm-driver schema`: to stdout (one provider's MachineClass schema, or all as one object) or as files into --out. */
export function writeSchemas(providers: ProviderRegistry, options: { provider?: string; out?: string }): string | undefined {
  const chosen = options.provider ? [providers.find(options.provider)] : providers.all();
  if (chosen.some((p) => !p)) throw new Error(`unknown provider "${options.provider}", expected one of ${providers.names().join(', ')}`);
  const files = Object.assign({}, ...chosen.map((p) => editorSchemas(p!))) as Record<string, object>;
  if (options.out) {
    mkdirSync(options.out, { recursive: true });
    for (const [name, schema] of Object.entries(files)) writeFileSync(join(options.out, name), `${JSON.stringify(schema, null, 2)}\n`);
    return undefined;
  }
  const single = options.provider ? files[`${chosen[0]!.name.toLowerCase()}-machine-class.schema.json`] : files;
  return JSON.stringify(single, null, 2);
}
