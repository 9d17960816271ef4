import type { RouteDefinition } from '@mcms/contracts';
import type { RouteTarget } from './http-requests';

/** How the test authenticates: a bearer token for roles, and the add-in's key for add-in routes. */
export interface FuzzCredentials {
  token(roles: Array<'viewer' | 'editor' | 'approver' | 'admin'>): string;
  addin?: { key: string; device: string };
}

/**
 * Every route with credentials it accepts, so generated requests get past authentication and reach
 * validation (who may call what is the authorisation matrix's job, not this one's).
 */
export function routeTargets(
  routes: readonly RouteDefinition[],
  credentials: FuzzCredentials,
  /** By operationId: see {@link RouteTarget.pinnedQuery}. */
  pinnedQueries: Record<string, Record<string, string>> = {},
): RouteTarget[] {
  return routes.map((route) => {
    const pinnedQuery = pinnedQueries[route.operationId];
    return {
      route,
      authHeaders: authHeadersFor(route, credentials),
      ...(pinnedQuery ? { pinnedQuery } : {}),
    };
  });
}

function authHeadersFor(route: RouteDefinition, credentials: FuzzCredentials): Record<string, string> {
  if (route.auth === 'public') return {};
  if (route.auth === 'addin') {
    if (!credentials.addin) throw new Error(`${route.operationId} needs add-in credentials`);
    return { 'x-addin-key': credentials.addin.key, 'x-addin-device': credentials.addin.device };
  }
  // admin includes every lower role; addin-or-viewer takes a viewer token.
  return { authorization: `Bearer ${credentials.token(['admin'])}` };
}
