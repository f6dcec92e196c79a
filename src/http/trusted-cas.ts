import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/**
 * Where Gardener's STACKIT extension mounts the CloudProfile's CA bundle into
 * the provider container (gardener-extension-provider-stackit
 * pkg/webhook/controlplane/ensurer.go: mountPath
 * /etc/ssl/certs/cloudprofile-ca.crt). Go's crypto/x509 reads /etc/ssl/certs
 * by itself; Node does not, so the file is loaded here. Env
 * MCM_DRIVER_CLOUDPROFILE_CA moves the path (tests, other layouts); a missing
 * file at this path is normal (no CABundle in the CloudProfile).
 */
export const DEFAULT_CLOUDPROFILE_CA = '/etc/ssl/certs/cloudprofile-ca.crt';

let extraCaFiles: readonly string[] = [];
let cached: string[] | undefined;

/**
 * CA files an operator names (`serve --ca-file`, default env MCM_DRIVER_CA_FILE,
 * comma-separated). Unlike the CloudProfile path these must exist. Call before
 * the first cloud request; trustedCas() reads them once.
 */
export function setExtraCaFiles(files: readonly string[]): void {
  extraCaFiles = files;
  cached = undefined;
}

/**
 * The CAs every cloud call trusts: Node's bundled roots (the system store Go
 * would use is not read by Node), the CloudProfile CA if mounted, and the
 * operator's CA files. Read once and kept: a CA rotation rolls the pod.
 * Throws, naming the file, when an operator-named file cannot be read.
 */
export function trustedCas(): string[] {
  if (cached) return cached;
  const cloudProfileCa = process.env.MCM_DRIVER_CLOUDPROFILE_CA || DEFAULT_CLOUDPROFILE_CA;
  const pems: string[] = [...rootCertificates];
  if (existsSync(cloudProfileCa)) pems.push(readPem(cloudProfileCa));
  for (const file of extraCaFiles) pems.push(readPem(file));
  cached = pems;
  return pems;
}

function readPem(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`CA file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`CA file ${file} holds no PEM certificate`);
  return text;
}
