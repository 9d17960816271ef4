import { defineTopology, type QueueType, type Topology } from '@mcms/messaging';
import { historyEventsQueue } from './adapters/history-events.consumer';

/** The exchanges and this service's queues; applied on every (re)connect. */
export function historyTopology(options: {
  prefix: string;
  queueType: QueueType;
  retryDelaysMs: readonly number[];
}): Topology {
  return defineTopology({
    prefix: options.prefix,
    queueType: options.queueType,
    consumers: [historyEventsQueue(options.retryDelaysMs)],
  });
}
