import { DEV_JWT_SECRET } from '@mcms/platform';
import { startGateway, type GatewayHarness } from '../../../services/addin-gateway/test/support/gateway';
import { mcms } from './support/run-cli';

let gw: GatewayHarness;
let env: Record<string, string>;

beforeAll(async () => {
  gw = await startGateway();
  env = {
    ADDIN_GATEWAY_URL: gw.baseUrl,
    MCMS_JWT_SECRET: DEV_JWT_SECRET,
    NODE_ENV: 'test',
    USER: 'op-admin',
  };
});

afterAll(async () => {
  await gw?.close();
});

describe('mcms against the gateway API', () => {
  it('lists add-in jobs by status, following the pages up to --limit', async () => {
    const jobIds = [await gw.queueJob(), await gw.queueJob(), await gw.queueJob()];

    const pending = await mcms(['jobs', 'list', '--status', 'Pending', '--json'], env);
    expect(pending.code).toBe(0);
    expect((JSON.parse(pending.stdout) as Array<{ jobId: string }>).map((job) => job.jobId)).toEqual(jobIds);

    const firstTwo = await mcms(['jobs', 'list', '--status', 'Pending', '--limit', '2'], env);
    expect(firstTwo.code).toBe(0);
    expect(firstTwo.stdout).toContain(jobIds[1]);
    expect(firstTwo.stdout).not.toContain(jobIds[2]);
    expect(firstTwo.stdout).toContain('more jobs');

    const completed = await mcms(['jobs', 'list', '--status', 'Completed', '--json'], env);
    expect(JSON.parse(completed.stdout)).toEqual([]);
  });

  it('creates, lists and revokes an add-in key, and the revoked key stops working', async () => {
    const created = await mcms(
      ['keys', 'create', '--name', 'cell 7 workstation', '--days', '7', '--json'],
      env,
    );
    expect(created.code).toBe(0);
    const { keyId, key } = JSON.parse(created.stdout) as { keyId: string; key: string };
    const useKey = () => gw.call('GET', '/api/addin/jobs/next', { key, device: 'WS-CLI' });
    expect([200, 204]).toContain((await useKey()).status);

    const listed = await mcms(['keys', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${keyId}\\s+cell 7 workstation\\s+op-admin`));
    expect(listed.stdout).not.toContain(key);

    const revoked = await mcms(['keys', 'revoke', keyId], env);
    expect(revoked.code).toBe(0);
    expect((await useKey()).status).toBe(401);

    const unknown = await mcms(['keys', 'revoke', '00000000-0000-4000-8000-000000000000'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404');
  });

  it('refuses to mint a token in production, and reports the gateway’s refusal of a weak token', async () => {
    const production = await mcms(['keys', 'list'], { ...env, NODE_ENV: 'production' });
    expect(production.code).toBe(1);
    expect(production.stderr).toContain('MCMS_TOKEN');

    const viewerOnly = await mcms(['keys', 'list'], { ...env, MCMS_TOKEN: gw.token(['viewer']) });
    expect(viewerOnly.code).toBe(1);
    expect(viewerOnly.stderr).toContain('403');
  });
});
