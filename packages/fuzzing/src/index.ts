// The public surface of @mcms/fuzzing: what the services' bad-input tests use.
export { exampleOf } from './examples';
export { badId, hostileJson, hostileString } from './hostile-values';
export { hostileRequests, type Defect, type HostileRequest, type RouteTarget } from './http-requests';
export { fuzzAgent, sendRaw, type RawAnswer } from './http-client';
export { fuzzRoutes, problemWith, type FuzzRoutesOptions } from './http-property';
export { malformedMessages, type MalformedMessage, type MessageDefect } from './messages';
export { definitionsOf, fuzzConsumer, type FuzzConsumerOptions } from './consumer-property';
export { fuzzSettings, reportCases, type FuzzSettings } from './settings';
export { routeTargets, type FuzzCredentials } from './targets';
