import {
  AddinJobExpired,
  AddinJobResultCommand,
  AddinJobStarted,
  CONSUMER_QUEUES,
  type MessageDefinition,
} from '@mcms/contracts';
import { defineTopology, type QueueType, type Topology } from '@mcms/messaging';

/** Results of add-in jobs (commands from the gateway). Also the inbox consumer name. */
export const RESULTS_QUEUE = CONSUMER_QUEUES.routingJobResults;
/** Jobs claimed and expired (gateway events): the routing's generation status follows them. */
export const PROGRESS_QUEUE = CONSUMER_QUEUES.routingJobProgress;

const bindingOf = (definition: MessageDefinition) => ({
  exchange: definition.exchange,
  routingKey: definition.routingKey,
});

/** The routing-worker's queues; what it publishes needs no declaration beyond the exchanges. */
export function routingWorkerTopology(options: {
  prefix: string;
  queueType: QueueType;
  retryDelaysMs: readonly number[];
}): Topology {
  return defineTopology({
    prefix: options.prefix,
    queueType: options.queueType,
    consumers: [
      {
        queue: RESULTS_QUEUE,
        bindings: [bindingOf(AddinJobResultCommand)],
        retryDelaysMs: options.retryDelaysMs,
      },
      {
        queue: PROGRESS_QUEUE,
        bindings: [bindingOf(AddinJobStarted), bindingOf(AddinJobExpired)],
        retryDelaysMs: options.retryDelaysMs,
      },
    ],
  });
}
