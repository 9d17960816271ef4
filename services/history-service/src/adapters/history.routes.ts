import { historyRoutes, type HistoryEntry as HistoryEntryDto } from '@mcms/contracts';
import { mountRoute, type Authenticate } from '@mcms/platform';
import type { Router } from 'express';
import type { HistoryEntry, HistoryStore } from '../domain/history-entry';

/** `GET /api/routings/:id/history` (viewer): every entry, oldest first; `[]` for a routing never heard of. */
export function mountHistoryRoutes(
  router: Router,
  deps: { store: HistoryStore; authenticate: Authenticate },
): void {
  const { list } = historyRoutes;
  mountRoute(router, list, deps.authenticate, async ({ params }) => {
    const entries = await deps.store.listForRouting(params.id);
    // Checked against the published schema on the way out: a row the contract can't describe is a
    // bug to surface as a 500, not something to hand to the UI.
    return { status: 200, body: list.responses[200].schema.parse(entries.map(toDto)) };
  });
}

function toDto(entry: HistoryEntry): HistoryEntryDto {
  return { ...entry, createdAt: entry.createdAt.toISOString() };
}
