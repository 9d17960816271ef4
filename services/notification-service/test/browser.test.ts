// The operator page in a real headless Chromium against the whole system (every service its own process):
// sign in, watch a generation succeed and another fail through the add-in API, and see the red alert at once;
// reload and find it still there. Debian's `chromium`, driven by playwright-core: nothing is downloaded.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeJobOutputs } from '@mcms/addin-client';
import { chromium, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core';
import { mcms } from '../../../tests/support/flows';
import { useSystem, waitFor, WORKSPACE_ROOT, type System } from '../../../tests/support/system';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const ARTIFACTS = path.join(WORKSPACE_ROOT, 'artifacts');
// The promise: a failure is on the operator's screen within 2 s of the add-in reporting it.
const ALERT_WITHIN_MS = 2_000;
// The failure badge's colour (style.css --error): red, white text on it at 7.8:1.
const ERROR_RED = 'rgb(164, 22, 26)';

const e2e = useSystem({ name: 'e2e-browser', env: { JOB_LEASE: '60s' } });

let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: the browser test needs Debian's chromium package. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary).',
    );
  }
  userDataDir = await mkdtemp(path.join(os.tmpdir(), 'mcms-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 860 },
    timeout: 30_000,
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

async function openPage(system: System, beforeLoad?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
  await beforeLoad?.(page);
  await page.goto(`${system.urls['notification-service']}/`);
  return page;
}

/**
 * Sits between the page and the socket.io server: records each socket.io CONNECT packet (`40{auth}`), can cut
 * the connection, and can hold what the page sends on a new connection until released — the page is then
 * offline as far as the server knows.
 */
async function interceptSocket(page: Page) {
  const connections: WebSocketRoute[] = [];
  const handshakes: Array<{ token?: string; lastNotificationId?: string }> = [];
  let gate: Promise<void> | undefined;
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    connections.push(ws);
    const held = gate;
    let sent = Promise.resolve();
    ws.onMessage((message) => {
      sent = sent.then(async () => {
        await held;
        if (typeof message === 'string' && message.startsWith('40'))
          handshakes.push(JSON.parse(message.slice(2)) as (typeof handshakes)[number]);
        server.send(message);
      });
    });
  });
  return {
    connections,
    handshakes,
    /** Closes the live connection; the page's next connection is held until the returned release is called. */
    cutAndHold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      void connections.at(-1)?.close();
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

const alertOf = (page: Page, jobId: string) => page.locator(`#feed li[data-job-id="${jobId}"]`);

/** Approve a routing and let an add-in finish its job, as ESPRIT would report it. */
async function generate(
  system: System,
  outcome: { resultStatus: 'completed' } | { resultStatus: 'failed'; message: string },
) {
  const api = mcms(system);
  const routing = await api.approved();
  const jobId = routing.lastAddinJobId!;
  const client = system.addinClient(`E2E-BROWSER-${randomUUID().slice(0, 4)}`);
  const job = await client.next({ waitSeconds: 10 });
  if (job?.jobId !== jobId) throw new Error(`expected job ${jobId}, got ${job?.jobId ?? 'none'}`);
  if (outcome.resultStatus === 'completed') {
    await client.complete(jobId, {
      resultStatus: 'completed',
      outputs: await writeJobOutputs(system.sharedDriveRoot, job),
    });
  } else {
    await client.complete(jobId, outcome);
  }
  return { routing, jobId, completedAt: Date.now() };
}

describe('the operator page in a browser', () => {
  e2e.it(
    'shows a failed generation as a red alert within 2 seconds, with its routing, job and message, and still lists it after a reload',
    async (system) => {
      const page = await openPage(system);
      await page.getByRole('button', { name: 'Development sign-in (viewer)' }).click();
      await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });

      const success = await generate(system, { resultStatus: 'completed' });
      const succeeded = alertOf(page, success.jobId);
      await succeeded.waitFor({ timeout: 10_000 });
      expect(await succeeded.getAttribute('data-severity')).toBe('info');
      expect(await succeeded.textContent()).toContain(`Generation completed: ${success.routing.routingCode}`);

      const message = 'ESPRIT: toolpath collision in operation 3';
      const failure = await generate(system, { resultStatus: 'failed', message });
      const failed = alertOf(page, failure.jobId);
      await failed.waitFor({ state: 'visible', timeout: ALERT_WITHIN_MS });
      const shownAfterMs = Date.now() - failure.completedAt;

      const text = (await failed.textContent()) ?? '';
      expect(text).toContain('FAILED');
      expect(text).toContain(`Generation failed: ${failure.routing.routingCode}`);
      expect(text).toContain(failure.jobId);
      expect(text).toContain(message);
      expect(await failed.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
      // Runs in the page (playwright sends its source): the test's TypeScript has no DOM library, the page has.
      const badgeColour = await failed
        .locator('.badge')
        .evaluate(
          (badge) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
            ).getComputedStyle(badge).backgroundColor,
        );
      expect(badgeColour).toBe(ERROR_RED);
      // Newest first: the failure sits above the success that came before it.
      const order = await page
        .locator('#feed li')
        .evaluateAll((items) => items.map((li) => li.getAttribute('data-job-id')));
      expect(order.indexOf(failure.jobId)).toBeLessThan(order.indexOf(success.jobId));
      // Failures are announced to screen readers at once, not only drawn in red.
      expect(await page.locator('#urgent').textContent()).toContain(message);

      // The routing table follows the alert, and a row's code (a button: keyboard-usable) opens its history.
      const row = page.locator(`#routings tr[data-routing-id="${failure.routing.id}"]`);
      await row.filter({ hasText: 'Failed' }).waitFor({ timeout: 5_000 });
      await row.getByRole('button').focus();
      await page.keyboard.press('Enter');
      await page.locator('#history tr', { hasText: 'AddinJobFailed' }).waitFor({ timeout: 5_000 });
      expect(await page.locator('#history-heading').textContent()).toBe(
        `History of ${failure.routing.routingCode}`,
      );

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'operator-page.png') });

      await page.reload();
      await alertOf(page, failure.jobId).waitFor({ timeout: 5_000 });
      await alertOf(page, success.jobId).waitFor({ timeout: 5_000 });
      await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
      expect(await page.locator(`#feed li[data-job-id="${failure.jobId}"]`).count()).toBe(1);
      await page.screenshot({ path: path.join(ARTIFACTS, 'operator-page-reloaded.png') });

      expect(pageErrors).toEqual([]);
      console.log(`failure alert visible ${shownAfterMs} ms after the add-in's completion returned`);
      await page.close();
    },
    60_000,
  );

  e2e.it(
    'reconnects by itself after the connection drops and resumes after the last alert it showed: an alert raised while it was offline appears once',
    async (system) => {
      let socket!: Awaited<ReturnType<typeof interceptSocket>>;
      const page = await openPage(system, async (p) => {
        socket = await interceptSocket(p);
      });
      await page.getByRole('button', { name: 'Development sign-in (viewer)' }).click();
      const live = page.getByRole('status').filter({ hasText: 'Live' });
      await live.waitFor({ timeout: 10_000 });
      const before = await generate(system, { resultStatus: 'failed', message: 'ESPRIT: before the drop' });
      await alertOf(page, before.jobId).waitFor({ timeout: 5_000 });
      const lastShown = await page.locator('#feed li').first().getAttribute('data-id');
      expect(await alertOf(page, before.jobId).getAttribute('data-id')).toBe(lastShown);

      const release = socket.cutAndHold();
      await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 5_000 });
      await waitFor(() => socket.connections.length >= 2, { what: 'the page to open a new connection' });

      const during = await generate(system, { resultStatus: 'failed', message: 'ESPRIT: while offline' });
      const notifications = system.api('notification-service');
      await waitFor(
        async () => {
          const page = await notifications.get<{ items: Array<{ jobId: string }> }>(
            `/api/notifications?after=${lastShown}&limit=500`,
          );
          return page.body.items.some((a) => a.jobId === during.jobId);
        },
        { what: 'the alert raised while the page was offline to be stored' },
      );
      expect(await alertOf(page, during.jobId).count()).toBe(0);

      release();
      await alertOf(page, during.jobId).waitFor({ timeout: 5_000 });
      await live.waitFor({ timeout: 5_000 });
      expect(socket.handshakes.at(-1)?.lastNotificationId).toBe(lastShown);
      expect(await alertOf(page, during.jobId).count()).toBe(1);
      expect(await alertOf(page, before.jobId).count()).toBe(1);
      await page.close();
    },
    60_000,
  );

  e2e.it(
    'refuses a token that is not valid and says so, keeping the operator on the sign-in form',
    async (system) => {
      const page = await openPage(system);
      await page.getByLabel('Access token (JWT, viewer or above)').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('#sign-in-error').filter({ hasText: 'refused' }).waitFor({ timeout: 5_000 });
      expect(await page.locator('#workspace').isHidden()).toBe(true);
      expect(await page.getByRole('status').textContent()).toBe('Signed out');
      await page.close();
    },
  );
});
