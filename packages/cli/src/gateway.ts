import { AddinJobPage, CreatedKey, KeyInfo, type AddinJob } from '@mcms/contracts';
import { createJwtAuth } from '@mcms/platform';
import { z } from 'zod';
import { CommandError } from './errors';
import { cell, table, type CliIo } from './output';
import type { CliSettings } from './settings';

interface Common {
  settings: CliSettings;
  io: CliIo;
  json: boolean;
  by: string | undefined;
}

/**
 * The bearer token for the gateway's admin and viewer routes: `MCMS_TOKEN` (issued by the plant's identity
 * provider), or — outside production only — a 5-minute admin token signed with `MCMS_JWT_SECRET`.
 */
function tokenFor({ settings, by }: Common): string {
  if (settings.token) return settings.token;
  if (settings.jwtSecret && settings.nodeEnv !== 'production') {
    return createJwtAuth({ secret: settings.jwtSecret }).sign(
      { sub: by ?? settings.user ?? 'mcms-cli', roles: ['admin'] },
      { expiresInSeconds: 300 },
    );
  }
  throw new CommandError(
    'set MCMS_TOKEN to an admin token (or, outside production, MCMS_JWT_SECRET to mint one)',
  );
}

async function call(common: Common, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = `${common.settings.gatewayUrl}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${tokenFor(common)}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw new CommandError(
      `cannot reach the gateway at ${common.settings.gatewayUrl}: ${(err as Error).message}`,
    );
  }
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new CommandError(
      `${method} ${path}: ${response.status} ${error?.code ?? ''}${error?.message ? `: ${error.message}` : ''}`,
    );
  }
  return parsed;
}

/** `mcms jobs list`: follows the pages until `limit` jobs or the last page. */
export async function listJobs(common: Common, options: { status?: string; limit: number }): Promise<void> {
  const jobs: AddinJob[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(500, options.limit - jobs.length)) });
    if (options.status !== undefined) query.set('status', options.status);
    if (cursor !== null) query.set('cursor', cursor);
    const page = AddinJobPage.parse(await call(common, 'GET', `/api/addin/jobs?${query}`));
    jobs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && jobs.length < options.limit);
  if (common.json) return common.io.stdout(`${JSON.stringify(jobs)}\n`);
  common.io.stdout(
    table(
      ['JOB ID', 'ROUTING', 'STATUS', 'ATTEMPT', 'CREATED', 'DEVICE', 'LEASE UNTIL', 'RESULT'],
      jobs.map((job) => [
        job.jobId,
        job.routingCode,
        job.status,
        String(job.attempt),
        job.createdAt,
        cell(job.claimedBy),
        cell(job.leaseExpiresAt),
        cell(job.resultStatus),
      ]),
    ),
  );
  if (cursor !== null) common.io.stdout(`(more jobs: raise --limit)\n`);
}

/** `mcms keys create`: the key is shown once, here; only its hash is stored. */
export async function createKey(common: Common, options: { name?: string; days?: number }): Promise<void> {
  const created = CreatedKey.parse(
    await call(common, 'POST', '/api/addin/keys', {
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.days !== undefined ? { expiresInDays: options.days } : {}),
    }),
  );
  if (common.json) return common.io.stdout(`${JSON.stringify(created)}\n`);
  common.io.stdout(
    `key id:  ${created.keyId}\nkey:     ${created.key}\nexpires: ${created.expiresAt}\n` +
      'The key is shown only now: hand it to the add-in configuration (MCMS API key) and keep no copy.\n',
  );
}

/** `mcms keys list`: metadata only. */
export async function listKeys(common: Common): Promise<void> {
  const keys = z.array(KeyInfo).parse(await call(common, 'GET', '/api/addin/keys'));
  if (common.json) return common.io.stdout(`${JSON.stringify(keys)}\n`);
  common.io.stdout(
    table(
      ['KEY ID', 'NAME', 'CREATED BY', 'CREATED', 'EXPIRES', 'REVOKED', 'LAST USED'],
      keys.map((key) => [
        key.keyId,
        cell(key.name, 30),
        key.createdBy,
        key.createdAt,
        key.expiresAt,
        cell(key.revokedAt),
        cell(key.lastUsedAt),
      ]),
    ),
  );
}

/** `mcms keys revoke <keyId>`: effective at the add-in's next call. */
export async function revokeKey(common: Common, keyId: string): Promise<void> {
  await call(common, 'DELETE', `/api/addin/keys/${encodeURIComponent(keyId)}`);
  common.io.stdout(common.json ? `${JSON.stringify({ keyId, revoked: true })}\n` : `revoked ${keyId}\n`);
}
