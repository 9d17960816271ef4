export {
  DEFAULT_MAX_BODY_BYTES,
  defineRoute,
  ErrorBody,
  maxBodyBytesOf,
  type RouteAuth,
  type RouteDefinition,
  type RouteResponse,
} from './define-route';
export {
  CommentBody,
  CreateRoutingBody,
  GenerationStatus,
  ListRoutingsQuery,
  RejectBody,
  Routing,
  RoutingIdParams,
  RoutingPage,
  routingRoutes,
  RoutingStatus,
} from './routings';
export {
  AddinJob,
  AddinJobPage,
  AddinJobStatus,
  addinRoutes,
  CompleteJobBody,
  CreatedKey,
  CreateKeyBody,
  JobIdParams,
  KeyIdParams,
  KeyInfo,
  Lease,
  ListJobsQuery,
  NextJobQuery,
  ResultStatus,
} from './addin';
export {
  ApprovalOutcome,
  ChangeType,
  GenerationOutcome,
  HistoryEntry,
  HistoryOutcome,
  historyRoutes,
} from './history';
export {
  ListNotificationsQuery,
  Notification,
  NotificationId,
  NotificationPage,
  notificationRoutes,
  NotificationSeverity,
  NotificationType,
} from './notifications';
export { buildOpenApiDocument, type OpenApiOptions } from './openapi';
export { openApiFor, serviceApis, type ServiceWithApi } from './services';
