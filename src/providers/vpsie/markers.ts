/**
 * What ties a VPSie VM to its Machine, MachineClass and cluster.
 *
 * - hostname = Machine name: the only key VPSie can look a VM up by; every
 *   VPSie-authored consumer discovers VMs by hostname [sdk].
 * - notes: one marker line `mcm-grpc-driver: cluster=<ns> class=<class> machine=<name>`.
 *   `notes` is part of the listed VmData [sdk: govpsie VmData, used for list and
 *   get], so ListMachines and the lookup by hostname check ownership from the
 *   one list request. This is the authoritative marker.
 * - tags: `mcm-cluster:<ns>`, `mcm-class:<class>`, `mcm-machine:<name>`. Tags are
 *   not in the listed VmData (`vmTags` only on GET by id) [sdk], but the pending
 *   view carries the create request's tags [sdk: govpsie PendingVm.data.tags],
 *   so they identify our VMs while they are pending, and show in VPSie's panel.
 *   Tag charset and length limits are [unconfirmed].
 *
 * Every check is exact and client-side: VPSie has no filter by notes or tags.
 */

export const NOTES_MARKER_PREFIX = 'mcm-grpc-driver:';
export const TAG_CLUSTER = 'mcm-cluster:';
export const TAG_CLASS = 'mcm-class:';
export const TAG_MACHINE = 'mcm-machine:';

/** Lower-case DNS names: Kubernetes namespaces, class names and (with no dot) Machine names. */
const MARKER_VALUE = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
const NOTES_LINE = new RegExp(`^${NOTES_MARKER_PREFIX} cluster=(${MARKER_VALUE}) class=(${MARKER_VALUE}) machine=(${MARKER_VALUE})$`);
const SCRIPT_LINE = new RegExp(`^# ${NOTES_MARKER_PREFIX} cluster=(${MARKER_VALUE}) class=(${MARKER_VALUE}) machine=(${MARKER_VALUE})$`);
const MARKER_VALUE_RE = new RegExp(`^${MARKER_VALUE}$`);

/**
 * VPSie's hostname rules are [unconfirmed]. The driver accepts what is a valid
 * hostname everywhere: one RFC 1123 label, lower case (the CCM compares
 * hostnames lower-cased [sdk], so case must not matter).
 */
const HOSTNAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

export interface Markers {
  cluster: string;
  machineClass: string;
  machine: string;
}

export function isValidHostname(name: string): boolean {
  return HOSTNAME.test(name);
}

export function isMarkerValue(value: string): boolean {
  return value.length <= 253 && MARKER_VALUE_RE.test(value);
}

export function notesMarkerLine(m: Markers): string {
  return `${NOTES_MARKER_PREFIX} cluster=${m.cluster} class=${m.machineClass} machine=${m.machine}`;
}

/** The user's notes, then our marker line. */
export function notesWithMarkers(userNotes: string | undefined, m: Markers): string {
  const user = userNotes?.trimEnd();
  return user ? `${user}\n${notesMarkerLine(m)}` : notesMarkerLine(m);
}

/** The markers of a VM's notes: exactly one marker line, else none (ambiguous is not ours). */
export function parseNotesMarkers(notes: string | null | undefined): Markers | undefined {
  return singleMatch(notes, NOTES_LINE);
}

export function markerTags(m: Markers): string[] {
  return [`${TAG_CLUSTER}${m.cluster}`, `${TAG_CLASS}${m.machineClass}`, `${TAG_MACHINE}${m.machine}`];
}

/** Pending entries keep the request's tags [sdk]; their item type is loose (`[]interface{}`). */
export function tagsCarry(tags: readonly unknown[] | undefined, cluster: string, machine: string): boolean {
  const names = new Set((tags ?? []).map(tagName).filter((t): t is string => t !== undefined));
  return names.has(`${TAG_CLUSTER}${cluster}`) && names.has(`${TAG_MACHINE}${machine}`);
}

function tagName(tag: unknown): string | undefined {
  if (typeof tag === 'string') return tag;
  if (typeof tag === 'object' && tag !== null) {
    const t = tag as Record<string, unknown>;
    for (const key of ['name', 'tag', 'value']) if (typeof t[key] === 'string') return t[key] as string;
  }
  return undefined;
}

/**
 * The per-Machine script carries its markers as a trailing comment line, which
 * is a comment both in a shell script and in cloud-config YAML. The script list
 * returns contents [sdk: govpsie Script.script], so a script is recognised as
 * ours before it is reused or deleted.
 */
export function scriptMarkerLine(m: Markers): string {
  return `# ${notesMarkerLine(m)}`;
}

export function parseScriptMarkers(content: string | undefined): Markers | undefined {
  return singleMatch(content, SCRIPT_LINE);
}

function singleMatch(text: string | null | undefined, re: RegExp): Markers | undefined {
  if (!text) return undefined;
  const found: Markers[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = re.exec(line.trim());
    if (m) found.push({ cluster: m[1]!, machineClass: m[2]!, machine: m[3]! });
  }
  return found.length === 1 ? found[0] : undefined;
}
