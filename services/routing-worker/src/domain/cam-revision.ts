import { createHash } from 'node:crypto';

/** One file of a generation as the add-in reported it (paths normalised by `normaliseOutputs`). */
export interface OutputFile {
  path: string;
  sha256: string;
  sizeBytes: number;
}

/** `1.4.2` → `1.5.0`: a new CAM program is a minor change of the routing's CAM revision. */
export function bumpMinor(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) throw new Error(`not a semantic version: ${version}`);
  return `${match[1]}.${Number(match[2]) + 1}.0`;
}

/**
 * The outputs in one canonical form: `/` separators, lower-case hex, sorted by path (by code unit,
 * not locale, so every machine sorts alike). The add-in runs on Windows and may send `sub\file.nc`.
 */
export function normaliseOutputs(outputs: readonly OutputFile[]): OutputFile[] {
  return outputs
    .map((file) => ({
      path: file.path.replace(/\\/g, '/'),
      sha256: file.sha256.toLowerCase(),
      sizeBytes: file.sizeBytes,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * One digest for a set of outputs: the same files with the same contents give the same digest, in
 * whatever order they were reported. Compared with the last successful generation's digest to decide
 * whether the CAM revision changes.
 */
export function outputDigest(outputs: readonly OutputFile[]): string {
  const hash = createHash('sha256');
  for (const file of normaliseOutputs(outputs))
    hash.update(`${file.path}\0${file.sha256}\0${file.sizeBytes}\n`);
  return hash.digest('hex');
}

/** Paths reported more than once (after normalisation): such a result can't describe one set of files. */
export function duplicatePaths(outputs: readonly OutputFile[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const { path } of normaliseOutputs(outputs)) {
    if (seen.has(path)) duplicates.add(path);
    seen.add(path);
  }
  return [...duplicates];
}
