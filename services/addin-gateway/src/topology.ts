import { CONSUMER_QUEUES, EspritGenerationCommand } from '@mcms/contracts';
import { defineTopology, type QueueType, type Topology } from '@mcms/messaging';

/** The queue of approval-triggered generation requests; also the consumer's name. */
export const ESPRIT_GENERATION_QUEUE = CONSUMER_QUEUES.espritGeneration;

/** The gateway's broker topology: one work queue for EspritGenerationCommand, with its retry tiers. */
export function gatewayTopology(options: {
  prefix: string;
  queueType: QueueType;
  retryDelaysMs: readonly number[];
}): Topology {
  return defineTopology({
    prefix: options.prefix,
    queueType: options.queueType,
    consumers: [
      {
        queue: ESPRIT_GENERATION_QUEUE,
        bindings: [
          { exchange: EspritGenerationCommand.exchange, routingKey: EspritGenerationCommand.routingKey },
        ],
        retryDelaysMs: options.retryDelaysMs,
      },
    ],
  });
}
