// The public API calls the end-to-end tests make again and again, each answer checked against the very
// contract schemas the services validate with: a drifted answer fails here, not three steps later.
import { randomBytes } from 'node:crypto';
import { AddinJob, HistoryEntry, Routing, type ChangeType } from '@mcms/contracts';
import type { z } from 'zod';
import { waitFor, type ApiAnswer, type System } from './system';

/** Codes no other test uses: a routing of its own for every test. */
export function uniqueCodes(label = 'R'): { routingCode: string; itemCode: string; revisionCode: string } {
  const id = randomBytes(4).toString('hex').toUpperCase();
  return { routingCode: `${label}-${id}`, itemCode: `ITEM-${id}`, revisionCode: 'A' };
}

function expectStatus<S extends z.ZodType>(
  answer: ApiAnswer,
  status: number,
  schema: S,
  what: string,
): z.infer<S> {
  if (answer.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return schema.parse(answer.body);
}

/** The routing and history API of a system, as an approver, editor or viewer would call it. */
export function mcms(system: System) {
  const routings = system.api('routing-worker');
  const history = system.api('history-service');
  const gateway = system.api('addin-gateway');

  const api = {
    async create(codes = uniqueCodes()): Promise<Routing> {
      return expectStatus(
        await routings.post('/api/routings', codes, { role: 'editor' }),
        201,
        Routing,
        'create routing',
      );
    },
    async get(id: string): Promise<Routing> {
      return expectStatus(await routings.get(`/api/routings/${id}`), 200, Routing, 'get routing');
    },
    async requestApproval(id: string, comment?: string): Promise<Routing> {
      const body = comment === undefined ? {} : { comment };
      return expectStatus(
        await routings.post(`/api/routings/${id}/request-approval`, body, { role: 'editor' }),
        200,
        Routing,
        'request approval',
      );
    },
    async approve(id: string, comment?: string): Promise<Routing> {
      const body = comment === undefined ? {} : { comment };
      return expectStatus(
        await routings.post(`/api/routings/${id}/approve`, body, { role: 'approver' }),
        200,
        Routing,
        'approve',
      );
    },
    async regenerate(id: string): Promise<Routing> {
      return expectStatus(
        await routings.post(`/api/routings/${id}/regenerate`, undefined, { role: 'approver' }),
        202,
        Routing,
        'regenerate',
      );
    },
    /** Create → request approval → approve: the routing as approve answered it (job Queued). */
    async approved(codes = uniqueCodes()): Promise<Routing> {
      const routing = await api.create(codes);
      await api.requestApproval(routing.id, 'ready for review');
      return api.approve(routing.id, 'looks good');
    },
    /** Waits until the routing satisfies `predicate`. */
    async waitForRouting(
      id: string,
      predicate: (routing: Routing) => boolean,
      what = 'the routing to change',
    ): Promise<Routing> {
      return waitFor(
        async () => {
          const routing = await api.get(id);
          return predicate(routing) ? routing : undefined;
        },
        { what: `${what} (routing ${id})` },
      );
    },
    async history(id: string): Promise<HistoryEntry[]> {
      return expectStatus(
        await history.get(`/api/routings/${id}/history`),
        200,
        HistoryEntry.array(),
        'history',
      );
    },
    /** Waits until the routing's history has an entry of every one of `changeTypes` (at least as many as listed). */
    async waitForHistory(id: string, changeTypes: readonly ChangeType[]): Promise<HistoryEntry[]> {
      return waitFor(
        async () => {
          const entries = await api.history(id);
          const have = entries.map((e) => e.changeType);
          const enough = changeTypes.every(
            (type) => have.filter((t) => t === type).length >= changeTypes.filter((t) => t === type).length,
          );
          return enough ? entries : undefined;
        },
        { what: `history entries ${changeTypes.join(', ')} of routing ${id}` },
      );
    },
    /** The gateway's view of a job (a viewer may read it); null while the gateway has not created it. */
    async job(jobId: string): Promise<AddinJob | null> {
      const answer = await gateway.get(`/api/addin/jobs/${jobId}`);
      if (answer.status === 404) return null;
      return expectStatus(answer, 200, AddinJob, 'get job');
    },
    /** Waits until the gateway has created the job (it consumes the approval's command asynchronously). */
    async waitForJob(jobId: string, predicate: (job: AddinJob) => boolean = () => true): Promise<AddinJob> {
      return waitFor(
        async () => {
          const job = await api.job(jobId);
          return job && predicate(job) ? job : undefined;
        },
        { what: `job ${jobId} at the gateway` },
      );
    },
  };
  return api;
}

export type Mcms = ReturnType<typeof mcms>;
