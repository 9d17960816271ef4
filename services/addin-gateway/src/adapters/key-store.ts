import type { Pool } from 'pg';

/** A stored add-in key: metadata and the hash, never the key. */
export interface StoredKey {
  keyId: string;
  name: string | null;
  keyHash: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Add-in keys in PostgreSQL. */
export interface KeyStore {
  insert(key: StoredKey): Promise<void>;
  /**
   * Registers a key given by configuration, by its hash: the first start inserts it; later starts push its
   * expiry out to `key.expiresAt` (never back) unless it was revoked, which stays final.
   */
  registerConfigured(key: StoredKey): Promise<void>;
  findByHash(keyHash: string): Promise<StoredKey | undefined>;
  list(): Promise<StoredKey[]>;
  /** Sets `revokedAt` unless already set; false for an unknown key. */
  revoke(keyId: string, now: Date): Promise<boolean>;
  /** Records a use at `now` unless one was recorded less than `resolutionMs` before (another replica, say). */
  recordUse(keyId: string, now: Date, resolutionMs: number): Promise<void>;
}

const KEY_COLUMNS = 'key_id, name, key_hash, created_by, created_at, expires_at, revoked_at, last_used_at';

interface KeyRow {
  key_id: string;
  name: string | null;
  key_hash: string;
  created_by: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const keyFromRow = (row: KeyRow): StoredKey => ({
  keyId: row.key_id,
  name: row.name,
  keyHash: row.key_hash,
  createdBy: row.created_by,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  lastUsedAt: row.last_used_at,
});

/** The {@link KeyStore} on node-postgres (decision 0015). */
export function createKeyStore(pool: Pool): KeyStore {
  return {
    async insert(key) {
      await pool.query(
        `INSERT INTO addin_key (${KEY_COLUMNS})
         VALUES ($1::uuid, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::timestamptz, $8::timestamptz)`,
        [
          key.keyId,
          key.name,
          key.keyHash,
          key.createdBy,
          key.createdAt,
          key.expiresAt,
          key.revokedAt,
          key.lastUsedAt,
        ],
      );
    },

    async registerConfigured(key) {
      await pool.query(
        `INSERT INTO addin_key (key_id, name, key_hash, created_by, created_at, expires_at)
         VALUES ($1::uuid, $2, $3, $4, $5::timestamptz, $6::timestamptz)
         ON CONFLICT (key_hash) DO UPDATE SET expires_at = GREATEST(addin_key.expires_at, EXCLUDED.expires_at)
         WHERE addin_key.revoked_at IS NULL`,
        [key.keyId, key.name, key.keyHash, key.createdBy, key.createdAt, key.expiresAt],
      );
    },

    // On every add-in call (unless cached, see withKeyCache): one indexed read.
    async findByHash(keyHash) {
      const { rows } = await pool.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM addin_key WHERE key_hash = $1`, [
        keyHash,
      ]);
      return rows[0] === undefined ? undefined : keyFromRow(rows[0]);
    },

    async list() {
      const { rows } = await pool.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM addin_key ORDER BY created_at, key_id`,
      );
      return rows.map(keyFromRow);
    },

    async revoke(keyId, now) {
      // One statement: the key's row either way (true when it exists), revoked_at set only the first time.
      const { rows } = await pool.query<{ key_id: string }>(
        `WITH revoked AS (
           UPDATE addin_key SET revoked_at = $2::timestamptz WHERE key_id = $1::uuid AND revoked_at IS NULL
         )
         SELECT key_id FROM addin_key WHERE key_id = $1::uuid`,
        [keyId, now],
      );
      return rows.length > 0;
    },

    async recordUse(keyId, now, resolutionMs) {
      await pool.query(
        `UPDATE addin_key SET last_used_at = $2::timestamptz
         WHERE key_id = $1::uuid AND (last_used_at IS NULL OR last_used_at <= $3::timestamptz)`,
        [keyId, now, new Date(now.getTime() - resolutionMs)],
      );
    },
  };
}

/** Options of {@link withKeyCache}. */
export interface KeyCacheOptions {
  /** How long a looked-up key is answered from memory; 0 = no cache. */
  ttlMs: number;
  /** Keys remembered at once; the oldest is dropped first. Default 1,000. */
  maxEntries?: number;
  /** Monotonic milliseconds; tests pass their own. Default `performance.now`. */
  now?: () => number;
}

/**
 * The key lookup of every add-in call, answered from memory for `ttlMs` (decision 0012): a fleet sharing one
 * key makes many calls a second, and each lookup was one of the three database round trips of `/complete`.
 *
 * What this process changes takes effect at once (a revoke drops the key, a recorded use updates it); what
 * changes behind its back (a revoke on another replica, a row edited in the database) takes effect here
 * within `ttlMs`. Expiry needs nothing: the caller compares `expiresAt` with its clock on every call. Unknown
 * keys are never cached, so a new key works at once and made-up keys cannot fill the memory.
 */
export function withKeyCache(store: KeyStore, options: KeyCacheOptions): KeyStore {
  const { ttlMs } = options;
  if (ttlMs <= 0) return store;
  const maxEntries = options.maxEntries ?? 1_000;
  const now = options.now ?? (() => performance.now());
  const cached = new Map<string, { key: StoredKey; until: number }>();
  // Bumped by every revoke here: a lookup that was already reading when a key was revoked must not put
  // what it read (the key before the revoke) back into the cache.
  let revocations = 0;
  const forget = (keyId: string) => {
    revocations += 1;
    for (const [hash, entry] of cached) if (entry.key.keyId === keyId) cached.delete(hash);
  };

  return {
    ...store,

    async findByHash(keyHash) {
      const hit = cached.get(keyHash);
      if (hit !== undefined && hit.until > now()) return hit.key;
      const revocationsBefore = revocations;
      const key = await store.findByHash(keyHash);
      cached.delete(keyHash);
      if (key !== undefined && revocations === revocationsBefore) {
        if (cached.size >= maxEntries) cached.delete(cached.keys().next().value as string);
        cached.set(keyHash, { key, until: now() + ttlMs });
      }
      return key;
    },

    async revoke(keyId, at) {
      forget(keyId);
      try {
        return await store.revoke(keyId, at);
      } finally {
        // Again once it is written: a lookup that started during the revoke may have read the old row.
        forget(keyId);
      }
    },

    async recordUse(keyId, at, resolutionMs) {
      // The cached copy learns of the use too, or every call until the entry expires would record it again.
      for (const entry of cached.values()) {
        if (entry.key.keyId === keyId) entry.key = { ...entry.key, lastUsedAt: at };
      }
      return store.recordUse(keyId, at, resolutionMs);
    },
  };
}
