import { createHash } from 'node:crypto';
import { formatKey, hashKey, KEY_PREFIX, keyExpiry, keyRefusal, sameHash, shouldRecordUse } from './keys';

const now = new Date('2026-05-01T12:00:00.000Z');

describe('add-in keys', () => {
  it('are the prefix and 32 random bytes in base64url', () => {
    const key = formatKey(Buffer.alloc(32, 0xff));
    expect(key).toBe(`${KEY_PREFIX}${'_'.repeat(42)}8`);
    expect(key.slice(KEY_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(() => formatKey(Buffer.alloc(16))).toThrow(/32 random bytes/);
  });

  it('are stored as their sha256 in hex', () => {
    expect(hashKey('mcms_ak_x')).toBe(createHash('sha256').update('mcms_ak_x').digest('hex'));
  });

  it('compare hashes exactly, and refuse malformed ones', () => {
    const h = hashKey('a');
    expect(sameHash(h, h)).toBe(true);
    expect(sameHash(h, hashKey('b'))).toBe(false);
    expect(sameHash(h, h.slice(0, 62))).toBe(false);
    expect(sameHash('', '')).toBe(false);
    expect(sameHash('zz', 'zz')).toBe(false);
  });

  it('expire the given number of days after creation', () => {
    expect(keyExpiry(now, 30)).toEqual(new Date('2026-05-31T12:00:00.000Z'));
  });

  it('open the API until they expire or are revoked', () => {
    const valid = { expiresAt: new Date(now.getTime() + 1), revokedAt: null };
    expect(keyRefusal(valid, now)).toBeUndefined();
    expect(keyRefusal({ ...valid, expiresAt: now }, now)).toBe('expired');
    expect(keyRefusal({ ...valid, revokedAt: now }, now)).toBe('revoked');
  });

  it('record a use at most once a minute', () => {
    expect(shouldRecordUse(null, now)).toBe(true);
    expect(shouldRecordUse(new Date(now.getTime() - 59_999), now)).toBe(false);
    expect(shouldRecordUse(new Date(now.getTime() - 60_000), now)).toBe(true);
  });
});
