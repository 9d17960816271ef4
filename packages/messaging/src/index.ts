// The public surface of @mcms/messaging: named exports only.
export { outgoing, type HeaderValue, type OutgoingMessage, type Publisher } from './types';
// Broker layer: topology, retry policy, connection + recovery, publisher, consumer, dead letters.
export {
  applyTopology,
  consumerDeclarations,
  consumerSpecOf,
  defineTopology,
  type BindingDeclaration,
  type ConsumerQueueSpec,
  type ExchangeDeclaration,
  type QueueBindingSpec,
  type QueueDeclaration,
  type QueueType,
  type Topology,
  type TopologyDeclarations,
  type TopologyNames,
  type TopologyOptions,
} from './topology';
export {
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_RETRY_POLICY,
  outcomeOf,
  type Outcome,
  type RetryPolicy,
} from './retry-policy';
export { HEADERS } from './headers';
export { connectBroker, type Broker, type BrokerHealth, type ConnectBrokerOptions } from './broker';
export { publishProperties, type BrokerPublisher, type PublisherOptions } from './publisher';
export { createBatcher, type Batcher, type BatcherOptions } from './batcher';
export {
  handleConcurrently,
  handlerFor,
  type BatchItem,
  type BatchOptions,
  type ConsumeOptions,
  type Consumer,
  type ConsumerHealth,
  type ConsumerState,
  type HandlerContext,
  type MessageHandler,
} from './consumer';
export {
  peekDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  type DeadLetter,
  type ReplayResult,
} from './dead-letters';
export {
  DEFAULT_DELIVERY_LIMIT,
  poisonPolicies,
  rabbitmqctlSetPolicyArgs,
  type BrokerPolicy,
  type PoisonPolicyOptions,
} from './policies';
// Transactional outbox and inbox.
export {
  enqueueOutbox,
  fromPgClient,
  fromPrismaTx,
  withPgTransaction,
  type PgQueryable,
  type PrismaRawExecutor,
  type SqlExecutor,
} from './outbox';
export { startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './outbox-relay';
export {
  claimInbox,
  withInbox,
  withInboxPg,
  type InboxKey,
  type InboxOutcome,
  type PrismaTransactor,
} from './inbox';
// Least privilege on the broker: one user per service, permissions derived from the queues and exchanges.
export {
  BROKER_SERVICES,
  brokerDefinitions,
  brokerPermissions,
  brokerUserOf,
  OPERATOR_BROKER_USER,
  queuesOf,
  rabbitPasswordHash,
  SERVICE_BROKER_ACCESS,
  type BrokerDefinitionsOptions,
  type BrokerPermission,
  type BrokerService,
} from './permissions';
