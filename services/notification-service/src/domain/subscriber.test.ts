import type { Alert } from './alert';
import { createSubscriber } from './subscriber';

const ROUTING_A = '0b7e7c3e-51c5-4d43-9a36-5d1c2b0a8f10';
const ROUTING_B = '9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';

function alert(id: number, routingId = ROUTING_A): Alert {
  return {
    id: BigInt(id),
    type: 'generation.failed',
    severity: 'error',
    routingId,
    routingCode: 'GT1',
    jobId: '6f1c7a4d-8a51-4f0b-9d6e-2c3b4a5d6e7f',
    message: `alert ${id}`,
    createdAt: new Date(0),
  };
}
const ids = (alerts: readonly Alert[]) => alerts.map((a) => Number(a.id));

it('sends live alerts above the last seen id only, once each', () => {
  const subscriber = createSubscriber({ lastSeenId: 3n, replay: false });

  expect(ids(subscriber.live([alert(2), alert(3), alert(4)]))).toEqual([4]);
  expect(ids(subscriber.live([alert(4), alert(5)]))).toEqual([5]);
  expect(subscriber.lastSentId).toBe(5n);
});

it('holds live alerts back during the replay and sends only the unseen ones after it, in order', () => {
  const subscriber = createSubscriber({ lastSeenId: 1n, replay: true });

  // Alerts 4 and 5 commit while the replay query runs: the feed shows them, the query saw 4 only.
  expect(subscriber.live([alert(4), alert(5)])).toEqual([]);
  expect(ids(subscriber.replayed([alert(2), alert(3), alert(4)]))).toEqual([2, 3, 4]);
  expect(ids(subscriber.endReplay())).toEqual([5]);
  expect(subscriber.replaying).toBe(false);
  expect(ids(subscriber.live([alert(5), alert(6)]))).toEqual([6]);
});

it('skips replayed alerts that a later page repeats', () => {
  const subscriber = createSubscriber({ lastSeenId: 0n, replay: true });

  expect(ids(subscriber.replayed([alert(1), alert(2)]))).toEqual([1, 2]);
  expect(ids(subscriber.replayed([alert(2), alert(3)]))).toEqual([3]);
  expect(subscriber.endReplay()).toEqual([]);
});

it("sends only the subscribed routing's alerts, without resending the others later", () => {
  const subscriber = createSubscriber({ lastSeenId: 0n, replay: false });
  subscriber.subscribe(ROUTING_B);

  expect(ids(subscriber.live([alert(1, ROUTING_A), alert(2, ROUTING_B), alert(3, ROUTING_A)]))).toEqual([2]);
  subscriber.subscribe(undefined);
  expect(ids(subscriber.live([alert(3, ROUTING_A), alert(4, ROUTING_A)]))).toEqual([4]);
});

it('ends a replay only once', () => {
  const subscriber = createSubscriber({ lastSeenId: 0n, replay: true });
  subscriber.live([alert(1)]);

  expect(ids(subscriber.endReplay())).toEqual([1]);
  expect(subscriber.endReplay()).toEqual([]);
});
