import { routingRoutes, type Routing as RoutingDto } from '@mcms/contracts';
import { mountRoute, userAuthenticator, type JwtAuth, type Principal } from '@mcms/platform';
import type { Router } from 'express';
import type { Caller, RoutingUseCases } from '../application/routing-use-cases';
import type { Routing } from '../domain/routing';

/** The routing API, validated and documented by `routingRoutes`; handlers only translate. */
export function mountRoutingRoutes(
  router: Router,
  { useCases, jwt }: { useCases: RoutingUseCases; jwt: JwtAuth },
): void {
  const auth = userAuthenticator(jwt);
  const caller = (principal: Principal | undefined, correlationId: string): Caller => ({
    // Every routing route needs a user token, so the principal is a user here.
    name: principal?.kind === 'user' ? principal.name : 'unknown',
    correlationId,
  });

  mountRoute(router, routingRoutes.create, auth, async ({ body, principal, correlationId }) => ({
    status: 201,
    body: toDto(await useCases.create(body, caller(principal, correlationId))),
  }));
  mountRoute(router, routingRoutes.list, auth, async ({ query }) => {
    const page = await useCases.list(query);
    return { status: 200, body: { items: page.items.map(toDto), nextCursor: page.nextCursor } };
  });
  mountRoute(router, routingRoutes.get, auth, async ({ params }) => ({
    status: 200,
    body: toDto(await useCases.get(params.id)),
  }));
  mountRoute(
    router,
    routingRoutes.requestApproval,
    auth,
    async ({ params, body, principal, correlationId }) => ({
      status: 200,
      body: toDto(await useCases.requestApproval(params.id, body, caller(principal, correlationId))),
    }),
  );
  mountRoute(router, routingRoutes.approve, auth, async ({ params, body, principal, correlationId }) => ({
    status: 200,
    body: toDto(await useCases.approve(params.id, body, caller(principal, correlationId))),
  }));
  mountRoute(router, routingRoutes.reject, auth, async ({ params, body, principal, correlationId }) => ({
    status: 200,
    body: toDto(await useCases.reject(params.id, body, caller(principal, correlationId))),
  }));
  mountRoute(router, routingRoutes.regenerate, auth, async ({ params, principal, correlationId }) => ({
    status: 202,
    body: toDto(await useCases.regenerate(params.id, caller(principal, correlationId))),
  }));
}

/** A routing as the API shows it (the contract's `Routing`): ISO times, no internal bookkeeping. */
export function toDto(routing: Routing): RoutingDto {
  return {
    id: routing.id,
    routingCode: routing.routingCode,
    itemCode: routing.itemCode,
    revisionCode: routing.revisionCode,
    status: routing.status,
    camRevision: routing.camRevision,
    lastAddinJobId: routing.lastAddinJobId,
    lastGenerationStatus: routing.lastGenerationStatus,
    lastGenerationMessage: routing.lastGenerationMessage,
    lastGeneratedAt: routing.lastGeneratedAt?.toISOString() ?? null,
    createdAt: routing.createdAt.toISOString(),
    updatedAt: routing.updatedAt.toISOString(),
  };
}
