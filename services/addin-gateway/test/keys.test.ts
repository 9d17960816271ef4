import { createHash, randomUUID } from 'node:crypto';
import { CreatedKey, KeyInfo } from '@mcms/contracts';
import { startGateway, waitFor, type GatewayHarness } from './support/gateway';

let gw: GatewayHarness;
let admin: string;

beforeAll(async () => {
  gw = await startGateway();
  admin = gw.token(['admin'], 'it-admin');
});

afterAll(async () => {
  await gw?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const createKey = (body: unknown = {}, token = admin) => gw.call('POST', '/api/addin/keys', { token, body });
// null leaves a header out.
const useKey = (key: string | null, device: string | null = 'WS-KEYS') =>
  gw.call('GET', '/api/addin/jobs/next', {
    ...(key !== null ? { key } : {}),
    ...(device !== null ? { device } : {}),
  });

describe('add-in keys', () => {
  it('are created by an admin and open the add-in API', async () => {
    const before = gw.now().getTime();
    const created = await createKey({ name: 'lab workstation' });

    expect(created.status).toBe(201);
    const { keyId, key, expiresAt } = CreatedKey.parse(created.body);
    expect(key).toMatch(/^mcms_ak_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(expiresAt) - before;
    expect(ttl).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(ttl).toBeLessThan(30 * 86_400_000 + 5_000);
    expect((await useKey(key)).status).toBe(204);
    expect(keyId).toEqual(expect.any(String));
  });

  it('are stored only as their sha256', async () => {
    const { keyId, key } = (await createKey({ name: 'hash check' })).body;

    const rows = await gw.prisma.$queryRaw<
      Array<Record<string, unknown>>
    >`SELECT * FROM addin_key WHERE key_id = ${keyId}::uuid`;

    expect(rows).toHaveLength(1);
    expect(rows[0]!.key_hash).toBe(sha256(key));
    expect(JSON.stringify(rows[0])).not.toContain(key.slice('mcms_ak_'.length));
  });

  it('are listed with their metadata, never the key or its hash', async () => {
    const { keyId, key } = (await createKey({ name: 'listed', expiresInDays: 7 })).body;

    const listed = await gw.call('GET', '/api/addin/keys', { token: admin });

    expect(listed.status).toBe(200);
    const infos = listed.body.map((info: unknown) => KeyInfo.parse(info));
    expect(infos.find((info: { keyId: string }) => info.keyId === keyId)).toEqual({
      keyId,
      name: 'listed',
      createdBy: 'it-admin',
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      revokedAt: null,
      lastUsedAt: null,
    });
    for (const raw of listed.body) expect(Object.keys(raw).sort()).toEqual(Object.keys(KeyInfo.shape).sort());
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(sha256(key));
    expect(text).not.toContain(sha256(gw.bootstrapKey));
  });

  it('stop working once revoked (401), and revoking again is still 204', async () => {
    const { keyId, key } = (await createKey()).body;
    expect((await useKey(key)).status).toBe(204);

    const revoked = await gw.call('DELETE', `/api/addin/keys/${keyId}`, { token: admin });
    const again = await gw.call('DELETE', `/api/addin/keys/${keyId}`, { token: admin });

    expect([revoked.status, again.status]).toEqual([204, 204]);
    const refused = await useKey(key);
    expect([refused.status, refused.body.error.message]).toEqual([401, 'add-in key revoked']);
    const info = (await gw.call('GET', '/api/addin/keys', { token: admin })).body.find(
      (k: { keyId: string }) => k.keyId === keyId,
    );
    expect(info.revokedAt).toEqual(expect.any(String));
    expect((await gw.call('DELETE', `/api/addin/keys/${randomUUID()}`, { token: admin })).status).toBe(404);
  });

  it('stop working once expired (401)', async () => {
    const { key } = (await createKey({ expiresInDays: 1 })).body;
    expect((await useKey(key)).status).toBe(204);

    gw.advanceClock(86_400_000);

    const refused = await useKey(key);
    expect([refused.status, refused.body.error.message]).toEqual([401, 'add-in key expired']);
  });

  it('refuse a wrong key, a missing key and a missing or oversized device with 401', async () => {
    const wrong = await useKey('mcms_ak_not-a-real-key');
    const missing = await useKey(null);
    const noDevice = await useKey(gw.bootstrapKey, null);
    const longDevice = await useKey(gw.bootstrapKey, 'W'.repeat(201));

    expect([wrong.status, missing.status, noDevice.status, longDevice.status]).toEqual([401, 401, 401, 401]);
    expect(noDevice.body.error.message).toMatch(/X-Addin-Device/);
  });

  it('are administered by admins only: 403 for a viewer, editor or approver, 401 without or with a bad token', async () => {
    for (const role of ['viewer', 'editor', 'approver'] as const) {
      const token = gw.token([role]);
      expect((await createKey({}, token)).status).toBe(403);
      expect((await gw.call('GET', '/api/addin/keys', { token })).status).toBe(403);
      expect((await gw.call('DELETE', `/api/addin/keys/${randomUUID()}`, { token })).status).toBe(403);
    }
    expect((await gw.call('GET', '/api/addin/keys')).status).toBe(401);
    expect((await gw.call('GET', '/api/addin/keys', { token: 'not.a.jwt' })).status).toBe(401);
    expect(
      (
        await gw.call('GET', '/api/addin/keys', {
          token: gw.jwt.sign({ sub: 'old', roles: ['admin'] }, { expiresInSeconds: -10 }),
        })
      ).status,
    ).toBe(401);
    // An add-in key is no admin credential.
    expect((await gw.call('GET', '/api/addin/keys', { key: gw.bootstrapKey, device: 'WS-1' })).status).toBe(
      401,
    );
  });

  it('refuse invalid admin requests with 400 naming the fields', async () => {
    const bad = await createKey({ name: '', expiresInDays: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'expiresInDays',
      'name',
    ]);
    const badId = await gw.call('DELETE', '/api/addin/keys/42', { token: admin });
    expect([badId.status, badId.body.error.details[0].path]).toEqual([400, 'keyId']);
  });

  it('record their last use, at most once a minute', async () => {
    const { keyId, key } = (await createKey()).body;
    const lastUsed = async () =>
      (await gw.prisma.addinKey.findUniqueOrThrow({ where: { keyId } })).lastUsedAt;

    await useKey(key);
    const first = await waitFor(lastUsed, 'the first use to be recorded');
    gw.advanceClock(30_000);
    await useKey(key);
    gw.advanceClock(31_000);
    await useKey(key);
    const second = await waitFor(async () => {
      const at = await lastUsed();
      return at !== null && at.getTime() !== first.getTime() ? at : undefined;
    }, 'the use a minute later to be recorded');

    expect(second.getTime() - first.getTime()).toBeGreaterThanOrEqual(61_000);
  });

  it('register the bootstrap key once, by its hash, and keep it revoked once revoked', async () => {
    const bootstrapHash = sha256(gw.bootstrapKey);
    const rows = () => gw.prisma.addinKey.findMany({ where: { keyHash: bootstrapHash } });
    const [registered] = await rows();
    expect(registered).toMatchObject({ createdBy: 'ADDIN_BOOTSTRAP_KEY' });
    const later = new Date(registered!.expiresAt.getTime() + 86_400_000);
    const again = { ...registered!, keyId: randomUUID(), createdAt: gw.now(), expiresAt: later };

    await gw.app.keys.registerConfigured(again);
    expect((await rows()).map((r) => [r.keyId, r.expiresAt])).toEqual([[registered!.keyId, later]]);

    await gw.app.keys.revoke(registered!.keyId, gw.now());
    await gw.app.keys.registerConfigured({ ...again, expiresAt: new Date(later.getTime() + 86_400_000) });
    const [revoked] = await rows();
    expect(revoked!.revokedAt).not.toBeNull();
    expect(revoked!.expiresAt).toEqual(later);
    expect((await useKey(gw.bootstrapKey)).status).toBe(401);
  });
});
