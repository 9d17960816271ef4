import { defineTopology, type QueueType, type Topology } from '@mcms/messaging';
import { alertsQueue } from './adapters/alerts.consumer';

/** The exchanges and this service's queue; applied on every (re)connect. */
export function notificationTopology(options: {
  prefix: string;
  queueType: QueueType;
  retryDelaysMs: readonly number[];
}): Topology {
  return defineTopology({
    prefix: options.prefix,
    queueType: options.queueType,
    consumers: [alertsQueue(options.retryDelaysMs)],
  });
}
