import { createHash, timingSafeEqual } from 'node:crypto';

/** Every key starts with this, so a leaked one is recognisable (secret scanners, logs, support tickets). */
export const KEY_PREFIX = 'mcms_ak_';

/** The random part of a key, in bytes. */
export const KEY_RANDOM_BYTES = 32;

/** `last_used_at` is written at most this often per key: the key check runs on every add-in call. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** A new key from `randomBytes` (at least {@link KEY_RANDOM_BYTES} of them, from a CSPRNG). */
export function formatKey(randomBytes: Uint8Array): string {
  if (randomBytes.length < KEY_RANDOM_BYTES) throw new Error(`a key needs ${KEY_RANDOM_BYTES} random bytes`);
  return KEY_PREFIX + Buffer.from(randomBytes).toString('base64url');
}

/** What is stored instead of the key: its sha256, hex. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes (false for different lengths or non-hex input). */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/** When a key created at `now` to live `days` days expires. */
export function keyExpiry(now: Date, days: number): Date {
  return new Date(now.getTime() + days * 86_400_000);
}

/** Why a stored key no longer opens the API at `now`, or undefined when it does. */
export function keyRefusal(
  key: { expiresAt: Date; revokedAt: Date | null },
  now: Date,
): 'revoked' | 'expired' | undefined {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return undefined;
}

/** Whether a use at `now` should be written, given the last one recorded. */
export function shouldRecordUse(lastUsedAt: Date | null, now: Date): boolean {
  return lastUsedAt === null || now.getTime() - lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS;
}
