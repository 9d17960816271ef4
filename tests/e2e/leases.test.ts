// Leases end to end: an add-in that crashes loses its job to the lease sweep (and, after 5 attempts, the job
// fails like any other failure); an add-in that heartbeats keeps its job past the lease. The simulator plays
// the add-ins, so its crash and slow modes are exercised against the real gateway too.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSimulator, type SimulatorSummary } from '@mcms/addin-client';
import { mcms } from '../support/flows';
import { useSystem, WORKSPACE_ROOT } from '../support/system';

// A one-second lease, swept every 100 ms: five expiries take about five seconds.
const e2e = useSystem({
  name: 'e2e-lease',
  env: { JOB_LEASE: '1s', LEASE_SWEEP_INTERVAL: '100ms', JOB_MAX_ATTEMPTS: '5' },
});

describe('an add-in that crashes with the job in hand', () => {
  e2e.it(
    'gets its job requeued each time the lease runs out, and the job fails after the 5th attempt',
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();
      const jobId = approved.lastAddinJobId!;

      const summary = await runSimulator({
        createClient: (deviceId) => system.addinClient(deviceId),
        sharedDriveRoot: system.sharedDriveRoot,
        devicePrefix: 'E2E-CRASH-',
        mix: { crash: 1 },
        maxJobs: 5,
        waitSeconds: 10,
        durationMs: 20_000,
      });
      expect(summary).toMatchObject({ taken: 5, outcomes: { crash: 5 }, errors: 0 });

      const routing = await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Failed',
        'generation Failed',
      );
      expect(routing).toMatchObject({ status: 'Approved', lastAddinJobId: jobId });
      expect(routing.lastGenerationMessage).toContain(
        'add-in did not finish within its lease after 5 attempts',
      );
      await expect(api.job(jobId)).resolves.toMatchObject({
        status: 'Failed',
        attempt: 5,
        resultStatus: 'failed',
      });

      const history = await api.waitForHistory(approved.id, ['AddinJobFailed']);
      const generation = history.filter((e) => e.jobId === jobId && e.changeType.startsWith('AddinJob'));
      expect(generation.map((e) => e.changeType)).toEqual([
        'AddinJobQueued',
        'AddinJobStarted',
        'AddinJobRequeued',
        'AddinJobStarted',
        'AddinJobRequeued',
        'AddinJobStarted',
        'AddinJobRequeued',
        'AddinJobStarted',
        'AddinJobRequeued',
        'AddinJobStarted',
        'AddinJobFailed',
      ]);
      expect(generation.at(-1)).toMatchObject({
        outcome: 'Failed',
        comment: expect.stringContaining('after 5 attempts'),
      });
    },
  );
});

describe('add-ins that heartbeat, succeed and fail', () => {
  e2e.it(
    'keeps the lease of a job worked on past its lease while the add-in heartbeats, and completes it',
    async (system) => {
      const api = mcms(system);
      const approved = await api.approved();

      const summary = await runSimulator({
        createClient: (deviceId) => system.addinClient(deviceId),
        sharedDriveRoot: system.sharedDriveRoot,
        devicePrefix: 'E2E-SLOW-',
        mix: { slow: 1 },
        slowWorkMs: 2_500, // 2.5 leases: without heartbeats the job would be requeued twice
        maxJobs: 1,
        waitSeconds: 10,
        durationMs: 20_000,
      });
      expect(summary).toMatchObject({ taken: 1, leaseLost: 0, errors: 0, reported: { completed: 1 } });
      expect(summary.heartbeats).toBeGreaterThanOrEqual(6);

      const routing = await api.waitForRouting(
        approved.id,
        (r) => r.lastGenerationStatus === 'Completed',
        'generation Completed',
      );
      expect(routing.camRevision).toBe('1.1.0');
      const history = await api.waitForHistory(approved.id, ['AddinJobCompleted']);
      expect(history.map((e) => e.changeType)).not.toContain('AddinJobRequeued');
      await expect(api.job(approved.lastAddinJobId!)).resolves.toMatchObject({
        status: 'Completed',
        attempt: 1,
      });
    },
  );

  e2e.it('lets several simulated add-ins finish some routings and fail others', async (system) => {
    const api = mcms(system);
    const approved = await Promise.all(Array.from({ length: 6 }, () => api.approved()));
    await Promise.all(approved.map((r) => api.waitForJob(r.lastAddinJobId!)));
    // Draws alternate between the two halves of the mix: success, failure, success, ...
    let draw = 0;
    const summary = await runSimulator({
      createClient: (deviceId) => system.addinClient(deviceId),
      sharedDriveRoot: system.sharedDriveRoot,
      devices: 3,
      devicePrefix: 'E2E-MIX-',
      mix: { success: 1, failure: 1 },
      random: () => (draw++ % 2 === 0 ? 0.25 : 0.75),
      maxJobs: 6,
      waitSeconds: 5,
      durationMs: 20_000,
    });
    expect(summary).toMatchObject({ taken: 6, errors: 0, reported: { completed: 3, failed: 3 } });
    expect(summary.completeLatencyMs.count).toBe(6);

    const finished = await Promise.all(
      approved.map((r) =>
        api.waitForRouting(
          r.id,
          (x) => x.lastGenerationStatus === 'Completed' || x.lastGenerationStatus === 'Failed',
        ),
      ),
    );
    expect(finished.filter((r) => r.lastGenerationStatus === 'Completed')).toHaveLength(3);
    for (const routing of finished.filter((r) => r.lastGenerationStatus === 'Failed')) {
      expect(routing.lastGenerationMessage).toContain('ESPRIT: toolpath collision in operation 3');
    }
  });
});

describe('the simulate command', () => {
  e2e.it(
    'takes jobs from the gateway as a process of its own and prints its summary as JSON',
    async (system) => {
      const cli = path.join(WORKSPACE_ROOT, 'packages', 'addin-client', 'dist', 'cli', 'simulate.js');
      if (!existsSync(cli)) throw new Error(`${cli} is missing: build with \`npx tsc -b\` (npm test does)`);
      const api = mcms(system);
      const approved = await Promise.all([api.approved(), api.approved()]);
      await Promise.all(approved.map((r) => api.waitForJob(r.lastAddinJobId!)));

      const { stdout } = await promisify(execFile)(
        process.execPath,
        [cli, '--devices=2', '--jobs=2', '--wait-seconds=5', '--duration=20s', '--json', '--quiet'],
        {
          env: {
            PATH: process.env.PATH,
            ADDIN_GATEWAY_URL: system.urls['addin-gateway'],
            ADDIN_KEY: system.addinKey,
            SHARED_DRIVE_ROOT: system.sharedDriveRoot,
          },
          timeout: 25_000,
        },
      );
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as SimulatorSummary;
      expect(summary).toMatchObject({
        devices: 2,
        taken: 2,
        errors: 0,
        fatal: null,
        reported: { completed: 2, failed: 0 },
      });
      expect(summary.completeLatencyMs).toMatchObject({
        count: 2,
        p50: expect.any(Number),
        p99: expect.any(Number),
      });
      for (const routing of approved) {
        await expect(
          api.waitForRouting(routing.id, (r) => r.lastGenerationStatus === 'Completed'),
        ).resolves.toMatchObject({
          camRevision: '1.1.0',
        });
      }
    },
  );
});
