import { openApiFor } from '@mcms/contracts';

/**
 * The routing-worker's OpenAPI document: the contracts package's own, generated from the route
 * definitions this service validates with, so what it serves equals docs/openapi/routing-worker.json.
 */
export function routingWorkerOpenApi(): Record<string, unknown> {
  return openApiFor('routing-worker');
}
