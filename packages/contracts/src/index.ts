export { Envelope, EXCHANGES, type ExchangeName, type UnknownEnvelope } from './envelope';
export {
  causedBy,
  createMessage,
  defineMessage,
  type MessageDefinition,
  type MessageEnvelope,
  type MessageKind,
  type MessageOf,
  type MessageOrigin,
  type PayloadOf,
} from './define-message';
export {
  Actor,
  Code,
  DeviceId,
  Id,
  JobParameters,
  OutputFile,
  OutputFiles,
  RelativePath,
  ResultMessage,
  SemVer,
  text,
  Timestamp,
} from './fields';
export { AddinJobResultCommand, commands, EspritGenerationCommand } from './commands';
export {
  AddinJobExpired,
  AddinJobQueued,
  AddinJobStarted,
  events,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingCreated,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
  RoutingRejected,
} from './events';
export { findDefinition, messageCatalog, messageName } from './catalog';
export { buildAsyncApiDocument, type AsyncApiOptions } from './asyncapi';
export { ASYNCAPI_PATH, asyncApiJson, generatedDocuments } from './generated-documents';
export * from './http';
export {
  NotificationHandshake,
  type NotificationClientEvents,
  type NotificationServerEvents,
  SOCKET_UNAUTHORIZED,
  SubscribeAck,
  SubscribeRequest,
} from './notification-socket';
export { CONSUMER_QUEUES, type ConsumerQueueName } from './queues';
export { CONTRACTS_VERSION } from './version';
