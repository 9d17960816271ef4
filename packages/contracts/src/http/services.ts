import { buildOpenApiDocument } from './openapi';
import type { RouteDefinition } from './define-route';
import { addinRoutes } from './addin';
import { historyRoutes } from './history';
import { notificationRoutes } from './notifications';
import { routingRoutes } from './routings';
import { CONTRACTS_VERSION } from '../version';

/** The HTTP API of each service: what it serves at `/openapi.json` and what docs/openapi/ holds. */
export const serviceApis = {
  'addin-gateway': {
    title: 'MCMS addin-gateway',
    description:
      'The API the ESPRIT add-in calls (X-Addin-Key + X-Addin-Device): take the next job under a lease, ' +
      'heartbeat, complete; and the admin API for add-in keys (JWT, admin).',
    routes: Object.values(addinRoutes) as RouteDefinition[],
  },
  'routing-worker': {
    title: 'MCMS routing-worker',
    description: 'Routings and their approval; approval queues the ESPRIT generation job (JWT).',
    routes: Object.values(routingRoutes) as RouteDefinition[],
  },
  'history-service': {
    title: 'MCMS history-service',
    description: 'The append-only history of each routing, built from the events (JWT, viewer).',
    routes: Object.values(historyRoutes) as RouteDefinition[],
  },
  'notification-service': {
    title: 'MCMS notification-service',
    description:
      'UI alerts of generation results: polled here, or pushed over socket.io on the same port ' +
      '(handshake auth { token, lastNotificationId? }, event `notification`, `subscribe` { routingId }) (JWT, viewer).',
    routes: Object.values(notificationRoutes) as RouteDefinition[],
  },
} as const;

export type ServiceWithApi = keyof typeof serviceApis;

/** The OpenAPI document of one service. */
export function openApiFor(
  service: ServiceWithApi,
  version: string = CONTRACTS_VERSION,
): Record<string, unknown> {
  const { title, description, routes } = serviceApis[service];
  return buildOpenApiDocument({ title, description, version, routes });
}
