import { bumpMinor, duplicatePaths, normaliseOutputs, outputDigest } from './cam-revision';

const A = { path: 'GT310001.nc', sha256: 'a'.repeat(64), sizeBytes: 10 };
const B = { path: 'sub\\GT310001.esp', sha256: 'B'.repeat(64), sizeBytes: 20 };

describe('CAM revision and output digests', () => {
  it.each([
    ['1.0.0', '1.1.0'],
    ['1.9.3', '1.10.0'],
    ['12.0.7', '12.1.0'],
  ])('bumps %s to %s', (before, after) => {
    expect(bumpMinor(before)).toBe(after);
  });

  it('refuses to bump something that is not a version', () => {
    expect(() => bumpMinor('1.0')).toThrow('not a semantic version');
  });

  it('normalises separators and hex case and sorts by path', () => {
    expect(normaliseOutputs([A, B])).toEqual([
      { path: 'GT310001.nc', sha256: 'a'.repeat(64), sizeBytes: 10 },
      { path: 'sub/GT310001.esp', sha256: 'b'.repeat(64), sizeBytes: 20 },
    ]);
  });

  it('gives the same digest for the same files in any order and spelling', () => {
    const digest = outputDigest([A, B]);
    expect(outputDigest([{ ...B, path: 'sub/GT310001.esp', sha256: 'b'.repeat(64) }, A])).toBe(digest);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives another digest when a checksum, a size or a path changes', () => {
    const digest = outputDigest([A, B]);
    expect(outputDigest([{ ...A, sha256: 'c'.repeat(64) }, B])).not.toBe(digest);
    expect(outputDigest([{ ...A, sizeBytes: 11 }, B])).not.toBe(digest);
    expect(outputDigest([{ ...A, path: 'other.nc' }, B])).not.toBe(digest);
    expect(outputDigest([A])).not.toBe(digest);
  });

  it('finds paths reported twice, however they are spelled', () => {
    expect(duplicatePaths([A, B])).toEqual([]);
    expect(duplicatePaths([A, B, { ...B, path: 'sub/GT310001.esp' }])).toEqual(['sub/GT310001.esp']);
  });
});
