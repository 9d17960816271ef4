import { randomBytes, randomUUID } from 'node:crypto';
import { addinRoutes, type CreatedKey, type KeyInfo } from '@mcms/contracts';
import { z } from 'zod';
import { badRequest, mountRoute, notFound, type Authenticate, type Metrics } from '@mcms/platform';
import type { Request, Router } from 'express';
import { formatKey, hashKey, keyExpiry } from '../domain/keys';
import { deviceOf, userOf } from './authenticate';
import type { JobPosition, JobStore } from './job-store';
import type { JobWaiters } from './job-waiters';
import { jobDto } from './job-rows';
import type { KeyStore, StoredKey } from './key-store';

/** What the routes need. */
export interface GatewayRouteDeps {
  authenticate: Authenticate;
  jobs: JobStore;
  keys: KeyStore;
  waiters: JobWaiters;
  clock: () => Date;
  leaseMs: number;
  keyTtlDays: number;
  openApiDocument: Record<string, unknown>;
  metrics?: Metrics;
}

/** Mounts the add-in API (the contract's `addinRoutes`) and `GET /openapi.json`. Thin: validate, call, map. */
export function mountGatewayRoutes(router: Router, deps: GatewayRouteDeps): void {
  const { authenticate, jobs, keys, waiters, clock, leaseMs } = deps;
  const claims = deps.metrics?.counter('mcms_addin_jobs_claimed_total', 'Jobs handed out to add-ins');
  const completions = deps.metrics?.counter(
    'mcms_addin_job_completions_total',
    'Completion calls by outcome',
    ['outcome'],
  );

  router.get('/openapi.json', (_req, res) => {
    res.json(deps.openApiDocument);
  });

  // Before `/api/addin/jobs/:jobId`, which would otherwise take `next` for a job id.
  mountRoute(router, addinRoutes.next, authenticate, async ({ query, principal, req, log }) => {
    const deviceId = deviceOf(principal);
    const signal = abortedWhenClientLeaves(req);
    try {
      const job = await waiters.take({
        claim: () => jobs.claimNext(deviceId, clock(), leaseMs),
        waitMs: query.waitSeconds * 1_000,
        signal,
      });
      if (job === undefined) return { status: 204 };
      claims?.inc();
      log.info(
        { jobId: job.jobId, routingId: job.routingId, deviceId, attempt: job.attempt },
        'job handed out',
      );
      return { status: 200, body: jobDto(job) };
    } catch (err) {
      // Too many add-ins waiting: tell them when to come back rather than have them retry at once.
      if ((err as { code?: string }).code === 'too_many_waiters') req.res?.set('Retry-After', '1');
      throw err;
    }
  });

  mountRoute(router, addinRoutes.heartbeat, authenticate, async ({ params, principal }) => {
    const leaseExpiresAt = await jobs.extendLease(params.jobId, deviceOf(principal), clock(), leaseMs);
    return { status: 200, body: { leaseExpiresAt: leaseExpiresAt.toISOString() } };
  });

  mountRoute(router, addinRoutes.complete, authenticate, async ({ params, body, principal, log }) => {
    const deviceId = deviceOf(principal);
    try {
      const { job, replayed } = await jobs.complete(params.jobId, deviceId, body, clock());
      completions?.inc({ outcome: replayed ? 'replayed' : 'recorded' });
      log.info(
        { jobId: job.jobId, routingId: job.routingId, deviceId, resultStatus: job.resultStatus, replayed },
        replayed ? 'repeated completion answered' : 'job completed',
      );
      return { status: 200, body: jobDto(job) };
    } catch (err) {
      completions?.inc({ outcome: (err as { code?: string }).code ?? 'error' });
      throw err;
    }
  });

  mountRoute(router, addinRoutes.list, authenticate, async ({ query }) => {
    const after = query.cursor === undefined ? undefined : positionOf(query.cursor);
    // One more than asked tells whether another page follows without a count.
    const found = await jobs.list({
      ...(query.status !== undefined ? { status: query.status } : {}),
      limit: query.limit + 1,
      ...(after !== undefined ? { after } : {}),
    });
    const items = found.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor = found.length > query.limit && last !== undefined ? cursorOf(last) : null;
    return { status: 200, body: { items: items.map(jobDto), nextCursor } };
  });

  mountRoute(router, addinRoutes.get, authenticate, async ({ params }) => {
    const job = await jobs.find(params.jobId);
    if (job === undefined) throw notFound(`job ${params.jobId}`);
    return { status: 200, body: jobDto(job) };
  });

  mountRoute(router, addinRoutes.createKey, authenticate, async ({ body, principal, log }) => {
    const now = clock();
    const key = formatKey(randomBytes(32));
    const stored: StoredKey = {
      keyId: randomUUID(),
      name: body.name ?? null,
      keyHash: hashKey(key),
      createdBy: userOf(principal),
      createdAt: now,
      expiresAt: keyExpiry(now, body.expiresInDays ?? deps.keyTtlDays),
      revokedAt: null,
      lastUsedAt: null,
    };
    await keys.insert(stored);
    log.info({ keyId: stored.keyId, createdBy: stored.createdBy }, 'add-in key created');
    const created: z.infer<typeof CreatedKey> = {
      keyId: stored.keyId,
      key,
      expiresAt: stored.expiresAt.toISOString(),
    };
    return { status: 201, body: created };
  });

  mountRoute(router, addinRoutes.listKeys, authenticate, async () => {
    return { status: 200, body: (await keys.list()).map(keyInfo) };
  });

  mountRoute(router, addinRoutes.revokeKey, authenticate, async ({ params, principal, log }) => {
    if (!(await keys.revoke(params.keyId, clock()))) throw notFound(`add-in key ${params.keyId}`);
    log.info({ keyId: params.keyId, revokedBy: userOf(principal) }, 'add-in key revoked');
    return { status: 204 };
  });
}

// The cursor is opaque to clients: the last job's sort key, so paging stays stable while jobs are added.
function cursorOf(job: JobPosition): string {
  return Buffer.from(JSON.stringify([job.createdAt.toISOString(), job.jobId])).toString('base64url');
}

const CursorTuple = z.tuple([z.iso.datetime(), z.uuid()]);

function positionOf(cursor: string): JobPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = CursorTuple.safeParse(decoded);
  if (!parsed.success) throw badRequest('invalid cursor: pass back a nextCursor this API returned');
  return { createdAt: new Date(parsed.data[0]), jobId: parsed.data[1] };
}

/** Metadata only: never the key (not stored) nor its hash. */
function keyInfo(key: StoredKey): z.infer<typeof KeyInfo> {
  return {
    keyId: key.keyId,
    name: key.name,
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

// `res` 'close' before the response ended means the client hung up: a long poll stops waiting (and claiming)
// for it. `req` 'close' is no use here: it fires once the request body has been read.
function abortedWhenClientLeaves(req: Request): AbortSignal {
  const controller = new AbortController();
  const res = req.res;
  res?.once('close', () => {
    if (!res.writableEnded) controller.abort();
  });
  return controller.signal;
}
