import { withKeyCache, type KeyStore, type StoredKey } from './key-store';

const created = new Date('2026-05-01T12:00:00.000Z');

function storedKey(keyId: string, keyHash: string): StoredKey {
  return {
    keyId,
    name: null,
    keyHash,
    createdBy: 'admin',
    createdAt: created,
    expiresAt: new Date('2026-06-01T12:00:00.000Z'),
    revokedAt: null,
    lastUsedAt: null,
  };
}

/** A plain in-memory KeyStore that counts its lookups. */
function fakeStore(keys: StoredKey[]) {
  const rows = new Map(keys.map((key) => [key.keyHash, { ...key }]));
  const lookups: string[] = [];
  const store: KeyStore = {
    insert: async (key) => void rows.set(key.keyHash, { ...key }),
    registerConfigured: async (key) => void rows.set(key.keyHash, { ...key }),
    findByHash: async (hash) => {
      lookups.push(hash);
      const row = rows.get(hash);
      return row && { ...row };
    },
    list: async () => [...rows.values()],
    revoke: async (keyId, now) => {
      const row = [...rows.values()].find((r) => r.keyId === keyId);
      if (row === undefined) return false;
      row.revokedAt ??= now;
      return true;
    },
    recordUse: async (keyId, now) => {
      const row = [...rows.values()].find((r) => r.keyId === keyId);
      if (row) row.lastUsedAt = now;
    },
  };
  return { store, rows, lookups };
}

describe('the add-in key cache', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => {
    clock = 0;
  });

  it('answers a key from memory for its TTL, then looks it up again', async () => {
    const { store, lookups } = fakeStore([storedKey('k1', 'h1')]);
    const keys = withKeyCache(store, { ttlMs: 1_000, now });
    expect((await keys.findByHash('h1'))?.keyId).toBe('k1');
    clock = 999;
    expect((await keys.findByHash('h1'))?.keyId).toBe('k1');
    expect(lookups).toEqual(['h1']);
    clock = 1_000;
    await keys.findByHash('h1');
    expect(lookups).toEqual(['h1', 'h1']);
  });

  it('sees a revocation by another replica once the TTL has passed', async () => {
    const { store, rows } = fakeStore([storedKey('k1', 'h1')]);
    const keys = withKeyCache(store, { ttlMs: 1_000, now });
    await keys.findByHash('h1');
    // Another replica revokes: straight in the shared table, not through this cache.
    rows.get('h1')!.revokedAt = created;
    clock = 500;
    expect((await keys.findByHash('h1'))?.revokedAt).toBeNull();
    clock = 1_001;
    expect((await keys.findByHash('h1'))?.revokedAt).toEqual(created);
  });

  it('forgets a key revoked through it at once', async () => {
    const { store, lookups } = fakeStore([storedKey('k1', 'h1')]);
    const keys = withKeyCache(store, { ttlMs: 60_000, now });
    await keys.findByHash('h1');
    expect(await keys.revoke('k1', created)).toBe(true);
    expect((await keys.findByHash('h1'))?.revokedAt).toEqual(created);
    expect(lookups).toEqual(['h1', 'h1']);
  });

  it('does not remember what a lookup read while the key was being revoked', async () => {
    const { store, rows } = fakeStore([storedKey('k1', 'h1')]);
    let release!: () => void;
    const slow: KeyStore = {
      ...store,
      // The lookup reads the row before the revoke commits, and answers after it.
      findByHash: async (hash) => {
        const row = { ...rows.get(hash)! };
        await new Promise<void>((resolve) => (release = resolve));
        return row;
      },
    };
    const keys = withKeyCache(slow, { ttlMs: 60_000, now });
    const reading = keys.findByHash('h1');
    await keys.revoke('k1', created);
    release();
    expect((await reading)?.revokedAt).toBeNull();
    // The next call looks again instead of trusting the copy read before the revoke.
    const next = keys.findByHash('h1');
    release();
    expect((await next)?.revokedAt).toEqual(created);
  });

  it('never remembers an unknown key, so one created later works at once', async () => {
    const { store, lookups } = fakeStore([]);
    const keys = withKeyCache(store, { ttlMs: 60_000, now });
    expect(await keys.findByHash('h2')).toBeUndefined();
    await store.insert(storedKey('k2', 'h2'));
    expect((await keys.findByHash('h2'))?.keyId).toBe('k2');
    expect(lookups).toEqual(['h2', 'h2']);
  });

  it('keeps the recorded use in the remembered copy, so it is not recorded on every call', async () => {
    const { store } = fakeStore([storedKey('k1', 'h1')]);
    const keys = withKeyCache(store, { ttlMs: 60_000, now });
    await keys.findByHash('h1');
    const used = new Date('2026-05-02T08:00:00.000Z');
    await keys.recordUse('k1', used, 60_000);
    expect((await keys.findByHash('h1'))?.lastUsedAt).toEqual(used);
  });

  it('holds at most maxEntries keys, dropping the oldest', async () => {
    const { store, lookups } = fakeStore([
      storedKey('k1', 'h1'),
      storedKey('k2', 'h2'),
      storedKey('k3', 'h3'),
    ]);
    const keys = withKeyCache(store, { ttlMs: 60_000, maxEntries: 2, now });
    for (const hash of ['h1', 'h2', 'h3', 'h3', 'h2', 'h1']) await keys.findByHash(hash);
    // h1 was dropped for h3; h2 and h3 came from memory.
    expect(lookups).toEqual(['h1', 'h2', 'h3', 'h1']);
  });

  it('is the store itself with a TTL of 0', () => {
    const { store } = fakeStore([]);
    expect(withKeyCache(store, { ttlMs: 0 })).toBe(store);
  });
});
