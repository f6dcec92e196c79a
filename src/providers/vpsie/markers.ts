/**
 * What ties a VPSie VM to its Machine, MachineClass and cluster.
 *
 * - hostname = Machine name: the only key VPSie can look a VM up by; every
 *   VPSie-authored consumer discovers VMs by hostname [sdk].
 * - notes: one marker `mcm-grpc-driver: cluster=<ns> class=<class> machine=<name>;`,
 *   written first (before the user's notes) so a notes field VPSie shortens
 *   keeps it. `notes` is part of the listed VmData [sdk: govpsie VmData], so
 *   ListMachines and the lookup by hostname check ownership from the list
 *   request. No VPSie client relies on notes coming back byte-identical
 *   (cloud-fidelity.md F4; VP-CAPI writes a constant), so the marker is found
 *   anywhere in the notes after undoing what an API may do to text: HTML
 *   entities, literal `\n`, newlines stripped or whitespace collapsed,
 *   leading/trailing whitespace trimmed. The previous driver version wrote the
 *   same marker without `;` as the last line: still recognised.
 * - tags: `mcm-cluster:<ns>`, `mcm-class:<class>`, `mcm-machine:<name>`. VPSie
 *   keeps a VM's tags (`vmTags` in GET /vm/{id} [sdk: govpsie
 *   ListServerByIdentifierRoot]; tags are edited by their own calls, addtags /
 *   tags/edit) but does not list them, and the pending view carries the create
 *   request's tags [sdk: govpsie PendingVm.data.tags]. When a listed VM with
 *   the Machine's hostname has no readable notes marker, its tags (GET by id)
 *   decide. Tag charset and length limits are [unconfirmed].
 *
 * Every check is exact and client-side: VPSie has no filter by notes or tags.
 */

export const NOTES_MARKER_PREFIX = 'mcm-grpc-driver:';
export const TAG_CLUSTER = 'mcm-cluster:';
export const TAG_CLASS = 'mcm-class:';
export const TAG_MACHINE = 'mcm-machine:';

/** Lower-case DNS names: Kubernetes namespaces, class names and (with no dot) Machine names. */
const MARKER_VALUE = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
/** Anywhere in the (normalised) notes; the value ends at anything that cannot be part of it (`;` in the current form). */
const NOTES_MARKER = new RegExp(`${NOTES_MARKER_PREFIX}\\s*cluster=(${MARKER_VALUE})\\s+class=(${MARKER_VALUE})\\s+machine=(${MARKER_VALUE})(?![-a-z0-9.])`, 'g');
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

/** Our marker first (a shortened notes field keeps it), `;` ending it even if the newline is lost, then the user's notes. */
export function notesWithMarkers(userNotes: string | undefined, m: Markers): string {
  const user = userNotes?.trim();
  const marker = `${notesMarkerLine(m)};`;
  return user ? `${marker}\n${user}` : marker;
}

/**
 * The markers of a VM's notes, however VPSie stored the text: exactly one
 * marker, else none (ambiguous is not ours).
 */
export function parseNotesMarkers(notes: string | null | undefined): Markers | undefined {
  if (!notes) return undefined;
  const text = normaliseNotes(notes);
  const found = [...text.matchAll(NOTES_MARKER)].map((m) => ({ cluster: m[1]!, machineClass: m[2]!, machine: m[3]! }));
  return found.length === 1 ? found[0] : undefined;
}

/** Undoes what an API may do to a text field: HTML entities, escaped newlines, collapsed or trimmed whitespace. */
export function normaliseNotes(notes: string): string {
  return notes
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\\r\\n|\\n|\\r/g, '\n')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The markers in a VM's tags (GET /vm/{id} vmTags), when all three are there exactly once. */
export function markersOfTags(tags: readonly unknown[] | undefined): Markers | undefined {
  const names = (tags ?? []).map(tagName).filter((t): t is string => t !== undefined).map((t) => t.trim());
  const one = (prefix: string) => {
    const values = [...new Set(names.filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length)))];
    return values.length === 1 && isMarkerValue(values[0]!) ? values[0] : undefined;
  };
  const cluster = one(TAG_CLUSTER);
  const machineClass = one(TAG_CLASS);
  const machine = one(TAG_MACHINE);
  return cluster && machineClass && machine ? { cluster, machineClass, machine } : undefined;
}

export function markerTags(m: Markers): string[] {
  return [`${TAG_CLUSTER}${m.cluster}`, `${TAG_CLASS}${m.machineClass}`, `${TAG_MACHINE}${m.machine}`];
}

/** Pending entries keep the request's tags [sdk: vpsieinc/govpsie pending.go PendingVm.Data.Tags]; their item type is loose (`[]interface{}`). */
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
