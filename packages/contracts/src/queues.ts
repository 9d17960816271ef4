/**
 * Every consumer's work queue, without the topology prefix: `<service>.<purpose>`, also the consumer's
 * (inbox) name. The services' topologies take their names from here, and the operator CLI (`mcms`)
 * lists, inspects and replays exactly these, so a queue added to a service shows up in both at once.
 * Each work queue has retry tiers (`<queue>.retry.<ms>ms`) and a dead-letter queue (`<queue>.dlq`).
 */
export const CONSUMER_QUEUES = {
  /** addin-gateway: EspritGenerationCommand → a Pending add-in job. */
  espritGeneration: 'addin-gateway.esprit-generation',
  /** routing-worker: AddinJobResultCommand → the routing's generation result. */
  routingJobResults: 'routing-worker.addin-job-results',
  /** routing-worker: job started/expired events → the routing's generation status. */
  routingJobProgress: 'routing-worker.job-progress',
  /** history-service: every event it records. */
  historyEvents: 'history-service.events',
  /** notification-service: the events that become operator alerts. */
  notificationAlerts: 'notification-service.alerts',
} as const;

/** One of {@link CONSUMER_QUEUES}. */
export type ConsumerQueueName = (typeof CONSUMER_QUEUES)[keyof typeof CONSUMER_QUEUES];
