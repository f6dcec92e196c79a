import {
  isValidHostname,
  markersOfTags,
  markerTags,
  notesWithMarkers,
  parseNotesMarkers,
  parseScriptMarkers,
  scriptMarkerLine,
  tagsCarry,
} from '../../../../src/providers/vpsie/markers.js';
import { formatProviderId, parseProviderId } from '../../../../src/providers/vpsie/provider-id.js';

const m = { cluster: 'shoot--garden--alpha', machineClass: 'alpha-worker-z1', machine: 'alpha-worker-z1-abc12' };
const line = 'mcm-grpc-driver: cluster=shoot--garden--alpha class=alpha-worker-z1 machine=alpha-worker-z1-abc12';

test('notes carry the marker first, ended by ";", then the user notes, and parse back', () => {
  expect(notesWithMarkers(undefined, m)).toBe(`${line};`);
  expect(notesWithMarkers('pool z1\n', m)).toBe(`${line};\npool z1`);
  expect(parseNotesMarkers(notesWithMarkers('pool z1', m))).toEqual(m);
  expect(parseNotesMarkers(`pool z1\n${line}`)).toEqual(m);
  expect(parseNotesMarkers(`${line}\r\n`)).toEqual(m);
});

test('notes without exactly one complete marker line have no markers', () => {
  for (const notes of [
    null,
    undefined,
    '',
    'pool z1',
    `${line}\n${line}`,
    `${line}\n${line.replace('abc12', 'other')}`,
    'mcm-grpc-driver: cluster=shoot--garden--alpha class=alpha-worker-z1',
    line.replace('machine=', 'machine= '),
    line.toUpperCase(),
    line.replace('abc12', 'abc12.'),
  ]) {
    expect(parseNotesMarkers(notes)).toBeUndefined();
  }
});

test('script markers are a trailing comment line', () => {
  expect(scriptMarkerLine(m)).toBe(`# ${line}`);
  expect(parseScriptMarkers(`#cloud-config\nruncmd: []\n# ${line}\n`)).toEqual(m);
  expect(parseScriptMarkers(`#!/bin/bash\n${line}\n`)).toBeUndefined();
});

test('tags: the three marker tags; pending tags are checked for cluster and machine, in the loose shapes VPSie may use', () => {
  expect(markerTags(m)).toEqual(['mcm-cluster:shoot--garden--alpha', 'mcm-class:alpha-worker-z1', 'mcm-machine:alpha-worker-z1-abc12']);
  expect(tagsCarry(markerTags(m), m.cluster, m.machine)).toBe(true);
  expect(tagsCarry(markerTags(m).map((name) => ({ name })), m.cluster, m.machine)).toBe(true);
  expect(tagsCarry(['mcm-cluster:shoot--garden--alpha'], m.cluster, m.machine)).toBe(false);
  expect(tagsCarry(['mcm-cluster:shoot--garden--beta', 'mcm-machine:alpha-worker-z1-abc12'], m.cluster, m.machine)).toBe(false);
  expect(tagsCarry(undefined, m.cluster, m.machine)).toBe(false);
  expect(tagsCarry([1, null, {}], m.cluster, m.machine)).toBe(false);
});

test('hostnames: one lower-case RFC 1123 label of at most 63 characters', () => {
  for (const ok of ['a', 'alpha-worker-z1-abc12', 'x'.repeat(63), '0abc']) expect(isValidHostname(ok)).toBe(true);
  for (const bad of ['', 'x'.repeat(64), 'Alpha', 'a.b', 'a_b', '-a', 'a-', 'a b', 'ä']) expect(isValidHostname(bad)).toBe(false);
});

test('providerIDs: vpsie://<identifier>, byte-identical both ways; others refused', () => {
  const id = '5b0c1f2e-8a43-4d0e-9d5a-2f6f0c3b1a77';
  expect(formatProviderId(id)).toBe(`vpsie://${id}`);
  expect(parseProviderId(`vpsie://${id}`)).toBe(id);
  for (const bad of [`vpsie://${id}/`, `VPSIE://${id}`, 'vpsie://', 'vpsie://../x', 'vpsie://a/b', 'vpsie://a..b', 'stackit://x/y', `vpsie://${'a'.repeat(129)}`]) {
    expect(() => parseProviderId(bad)).toThrow(/not a VPSie provider ID/);
  }
});

// cloud-fidelity.md F4: no VPSie client relies on notes coming back byte-identical.
test('notes markers survive what an API may do to the text: trimmed, newlines stripped, escaped, HTML-encoded, shortened', () => {
  const written = notesWithMarkers('pool z1 <gpu> & "fast"', m);
  const variants = [
    written.trim(),
    written.replace(/\n/g, ''),
    written.replace(/\n/g, ' '),
    written.replace(/\n/g, '\\n'),
    written.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'),
    written.replace(/;/g, '&#59;').replace(/=/g, '&#61;'),
    written.slice(0, line.length + 1),
    `  ${written}  \r\n`,
  ];
  for (const v of variants) expect(parseNotesMarkers(v)).toEqual(m);
  // The previous driver version wrote the marker as the last line, without ";".
  expect(parseNotesMarkers(`pool z1\n${line}`)).toEqual(m);
  expect(parseNotesMarkers(`pool z1${line}`)).toEqual(m);
  // Text run into the marker changes the machine it names, so the hostname check refuses it (never another Machine's VM).
  expect(parseNotesMarkers(`${line}x`)?.machine).toBe('alpha-worker-z1-abc12x');
});

test('tags name all three markers exactly once, or there are none', () => {
  expect(markersOfTags(markerTags(m))).toEqual(m);
  expect(markersOfTags(markerTags(m).map((tag) => ({ tag })))).toEqual(m);
  expect(markersOfTags(markerTags(m).slice(0, 2))).toBeUndefined();
  expect(markersOfTags([...markerTags(m), 'mcm-machine:other'])).toBeUndefined();
  expect(markersOfTags([])).toBeUndefined();
  expect(markersOfTags(undefined)).toBeUndefined();
});
