import { notificationRoutes } from '@mcms/contracts';
import { mountRoute, type Authenticate } from '@mcms/platform';
import type { Router } from 'express';
import type { AlertStore } from '../domain/alert';
import { toNotificationDto } from './notification-dto';

/** `GET /api/notifications?after=&limit=` (viewer): alerts after the cursor, oldest first. */
export function mountNotificationRoutes(
  router: Router,
  deps: { store: AlertStore; authenticate: Authenticate },
): void {
  const { list } = notificationRoutes;
  mountRoute(router, list, deps.authenticate, async ({ query }) => {
    // One more than asked tells whether another page exists without a second query.
    const alerts = await deps.store.listAfter(
      query.after === undefined ? undefined : BigInt(query.after),
      query.limit + 1,
    );
    const items = alerts.slice(0, query.limit).map(toNotificationDto);
    const nextCursor = alerts.length > query.limit ? (items[items.length - 1]?.id ?? null) : null;
    return { status: 200, body: list.responses[200].schema.parse({ items, nextCursor }) };
  });
}
