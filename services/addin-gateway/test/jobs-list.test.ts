import { AddinJobPage } from '@mcms/contracts';
import { startGateway, type GatewayHarness } from './support/gateway';

let gw: GatewayHarness;
let viewer: string;
const queued: string[] = [];

beforeAll(async () => {
  gw = await startGateway();
  viewer = gw.token(['viewer'], 'it-viewer');
  // Created one after another, so their creation order is their queueing order.
  for (let i = 0; i < 3; i++) queued.push(await gw.queueJob());
});

afterAll(async () => {
  await gw?.close();
});

const listJobs = (query: string, token = viewer) => gw.call('GET', `/api/addin/jobs${query}`, { token });

describe('listing add-in jobs', () => {
  it('pages through the jobs of one status, oldest first, until nextCursor is null', async () => {
    const claimed = await gw.call('GET', '/api/addin/jobs/next', { key: gw.bootstrapKey, device: 'WS-LIST' });
    expect(claimed.body.jobId).toBe(queued[0]);

    const first = await listJobs('?status=Pending&limit=1');
    expect(first.status).toBe(200);
    const page1 = AddinJobPage.parse(first.body);
    expect(page1.items.map((job) => job.jobId)).toEqual([queued[1]]);
    expect(page1.nextCursor).toEqual(expect.any(String));

    const page2 = AddinJobPage.parse(
      (await listJobs(`?status=Pending&limit=1&cursor=${page1.nextCursor}`)).body,
    );
    expect(page2.items.map((job) => job.jobId)).toEqual([queued[2]]);
    expect(page2.nextCursor).toBeNull();

    const inProgress = AddinJobPage.parse((await listJobs('?status=InProgress')).body);
    expect(inProgress.items).toEqual([
      expect.objectContaining({ jobId: queued[0], status: 'InProgress', claimedBy: 'WS-LIST' }),
    ]);
  });

  it('lists every status when none is given', async () => {
    const page = AddinJobPage.parse((await listJobs('?limit=10')).body);

    expect(page.items.map((job) => job.jobId)).toEqual(queued);
    expect(page.nextCursor).toBeNull();
  });

  it('names the bad field of an unknown status or a forged cursor, and needs a token', async () => {
    const badStatus = await listJobs('?status=Done');
    expect(badStatus.status).toBe(400);
    expect(JSON.stringify(badStatus.body)).toContain('status');

    const badCursor = await listJobs('?cursor=bm90LWEtY3Vyc29y');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.message).toContain('cursor');

    expect((await gw.call('GET', '/api/addin/jobs')).status).toBe(401);
    expect(
      (await gw.call('GET', '/api/addin/jobs', { key: gw.bootstrapKey, device: 'WS-LIST' })).status,
    ).toBe(401);
  });
});
