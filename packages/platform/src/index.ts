// The public surface of @mcms/platform: named exports only, so a rename is a compile error.
export {
  AppError,
  badRequest,
  fieldIssuesOf,
  conflict,
  forbidden,
  fromZodError,
  internal,
  isAppError,
  notFound,
  parseWith,
  payloadTooLarge,
  unauthorized,
  unavailable,
  unsupportedMediaType,
  validationFailed,
  type AppErrorOptions,
  type FieldIssue,
  type JsonValue,
} from './errors';
export {
  baseServiceConfig,
  brokerServiceConfig,
  envDurationList,
  ConfigError,
  envBool,
  envDurationMs,
  envInt,
  envLogLevel,
  envPort,
  envUrl,
  exitOnConfigError,
  isConfigError,
  loadConfig,
  LOG_LEVELS,
  parseDurationMs,
  type ConfigIssue,
  type EnvIntOptions,
  type LogLevel,
} from './config';
export { createLogger, redactUrl, withCorrelation, type Logger, type LoggerOptions } from './logger';
export { createMetrics, HTTP_DURATION_BUCKETS, type Metrics, type MetricsOptions } from './metrics';
export {
  CORRELATION_ID_HEADER,
  createHttpApp,
  startHttpServer,
  type HttpAppOptions,
  type ReadinessCheck,
  type RunningHttpServer,
  type StartHttpServerOptions,
} from './http';
export {
  onShutdown,
  runShutdown,
  type OnShutdownOptions,
  type ShutdownOptions,
  type ShutdownResult,
  type ShutdownStep,
} from './shutdown';
export {
  bearerToken,
  createJwtAuth,
  DEV_JWT_SECRET,
  hasRole,
  jwtSecretFrom,
  requireRole,
  ROLES,
  type JwtAuth,
  type Principal,
  type Role,
} from './auth';
export {
  mountRoute,
  userAuthenticator,
  type Authenticate,
  type RouteInput,
  type RouteResult,
} from './routes';
