import { randomUUID } from 'node:crypto';
import {
  AddinJobQueued,
  AddinJobStarted,
  RoutingApproved,
  RoutingCreated,
  type MessageDefinition,
} from '@mcms/contracts';
import { outgoing } from '@mcms/messaging';
import { eventOf, eventsHandled, startHistoryService, type RunningHistoryService } from './support';

// A figure, not an assertion on speed: the machine is shared with the broker, the database and
// other test files. The assertion is on correctness under load (every event recorded once).

let service: RunningHistoryService;

beforeAll(async () => {
  service = await startHistoryService();
});

afterAll(async () => {
  await service?.stop();
});

const EVENTS = 5_000;

it('records a backlog of 5,000 events, one entry each', async () => {
  // A backlog: published while the consumer is stopped, so the figure is the consumer's alone.
  await service.app.stop();
  const messages = Array.from({ length: EVENTS }, (_, i) => eventFor(i));
  for (let i = 0; i < messages.length; i += 500) {
    await Promise.all(
      messages
        .slice(i, i + 500)
        .map(([definition, event]) => service.broker.publisher.publish(outgoing(definition, event))),
    );
  }

  const startedAt = performance.now();
  await service.app.start();
  await eventsHandled(service, { outcome: 'recorded' }, EVENTS, 120_000);
  const elapsedMs = performance.now() - startedAt;

  process.stdout.write(
    `history-service: ${EVENTS} events → entries in ${elapsedMs.toFixed(0)} ms = ` +
      `${Math.round((EVENTS / elapsedMs) * 1000)} entries/s (prefetch 64, batched inserts)\n`,
  );
  expect(await service.prisma.historyEntry.count()).toBe(EVENTS);
}, 180_000);

/** Four events of one routing's story per routing, in turn. */
function eventFor(i: number): readonly [MessageDefinition, ReturnType<typeof eventOf>] {
  const ref = { routingId: ROUTINGS[Math.floor(i / 4)]!, routingCode: `GT${Math.floor(i / 4)}` };
  const jobId = JOBS[Math.floor(i / 4)]!;
  switch (i % 4) {
    case 0:
      return [
        RoutingCreated,
        eventOf(RoutingCreated, {
          ...ref,
          itemCode: 'I',
          revisionCode: 'A',
          camRevision: '1.0.0',
          createdBy: 'bench',
        }),
      ];
    case 1:
      return [
        RoutingApproved,
        eventOf(RoutingApproved, { ...ref, approvedBy: 'bench', comment: null, jobId }),
      ];
    case 2:
      return [AddinJobQueued, eventOf(AddinJobQueued, { ...ref, jobId, attempt: 1 })];
    default:
      return [
        AddinJobStarted,
        eventOf(AddinJobStarted, {
          ...ref,
          jobId,
          attempt: 1,
          deviceId: 'WS-1',
          leaseExpiresAt: new Date(Date.now() + 600_000).toISOString(),
        }),
      ];
  }
}

const ROUTINGS = Array.from({ length: EVENTS / 4 }, () => randomUUID());
const JOBS = Array.from({ length: EVENTS / 4 }, () => randomUUID());
