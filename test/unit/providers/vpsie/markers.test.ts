import {
  isValidHostname,
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

test('notes carry one marker line after the user notes, and parse back', () => {
  expect(notesWithMarkers(undefined, m)).toBe(line);
  expect(notesWithMarkers('pool z1\n', m)).toBe(`pool z1\n${line}`);
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
    'mcm-grpc-driver: cluster=shoot--garden--alpha class=alpha-worker-z1',
    line.replace('machine=', 'machine= '),
    line.toUpperCase(),
    `x ${line}`,
    `${line} extra`,
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
