import { enqueueOutbox, fromPrismaTx, withInbox } from '@mcms/messaging';
import { conflict, validationFailed } from '@mcms/platform';
import type { RoutingStore, RoutingTransaction } from '../application/ports';
import type { Routing } from '../domain/routing';
import { type Prisma, type PrismaClient, type Routing as RoutingRow } from '../generated/prisma/client';
import { createOutboxNotificationSink } from './outbox-notification-sink';

type Tx = Prisma.TransactionClient;

/** The routing-worker's tables through Prisma; outbox and inbox rows share the transactions. */
export function createPrismaRoutingStore(prisma: PrismaClient): RoutingStore {
  return {
    async find(id) {
      const row = await prisma.routing.findUnique({ where: { id } });
      return row ? toRouting(row) : undefined;
    },

    async list({ status, generationStatus, limit, cursor }) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      const rows = await prisma.routing.findMany({
        where: {
          ...(status ? { status } : {}),
          ...(generationStatus ? { lastGenerationStatus: generationStatus } : {}),
          ...(after
            ? {
                OR: [
                  { createdAt: { lt: after.createdAt } },
                  { createdAt: after.createdAt, id: { lt: after.id } },
                ],
              }
            : {}),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
      });
      const items = rows.slice(0, limit).map(toRouting);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
    },

    async resultRecorded(jobId) {
      return (await prisma.generationResult.count({ where: { jobId } })) > 0;
    },

    async handled({ consumer, messageId }) {
      return (await prisma.inboxMessage.count({ where: { consumer, messageId } })) > 0;
    },

    transaction(fn) {
      return prisma.$transaction((tx) => fn(transactionOf(tx)));
    },

    inboxTransaction(key, fn) {
      return withInbox(prisma, key, (tx) => fn(transactionOf(tx)));
    },
  };
}

function transactionOf(tx: Tx): RoutingTransaction {
  return {
    async lock(id) {
      // FOR UPDATE: the row stays locked until commit, so two changes of one routing can't interleave.
      const locked = await tx.$queryRaw<
        Array<{ id: string }>
      >`SELECT id FROM routing WHERE id = ${id}::uuid FOR UPDATE`;
      if (locked.length === 0) return undefined;
      return toRouting(await tx.routing.findUniqueOrThrow({ where: { id } }));
    },

    async insert(routing) {
      try {
        await tx.routing.create({ data: toRow(routing) });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw conflict(
            'routing_exists',
            `routing ${routing.routingCode} already exists for item ${routing.itemCode} revision ${routing.revisionCode}`,
          );
        }
        throw err;
      }
    },

    async update(routing) {
      const { id, ...data } = toRow(routing);
      await tx.routing.update({ where: { id }, data });
    },

    async resultRecorded(jobId) {
      return (await tx.generationResult.count({ where: { jobId } })) > 0;
    },

    async recordResult(record) {
      await tx.generationResult.create({ data: record });
    },

    async publish(messages) {
      await enqueueOutbox(fromPrismaTx(tx), messages);
    },

    notifications: createOutboxNotificationSink(fromPrismaTx(tx)),
  };
}

function toRouting(row: RoutingRow): Routing {
  return {
    id: row.id,
    routingCode: row.routingCode,
    itemCode: row.itemCode,
    revisionCode: row.revisionCode,
    status: row.status,
    camRevision: row.camRevision,
    lastAddinJobId: row.lastAddinJobId,
    lastGenerationStatus: row.lastGenerationStatus,
    lastGenerationMessage: row.lastGenerationMessage,
    lastGeneratedAt: row.lastGeneratedAt,
    lastOutputDigest: row.lastOutputDigest,
    generationProgress: row.generationProgress,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toRow(routing: Routing): RoutingRow {
  return { ...routing };
}

// A unique constraint failed (Prisma's P2002), duck-typed so an error from another copy of the client counts too.
function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}

// The cursor is the last item's sort key. Opaque to clients (base64url JSON), so the order can change later.
function encodeCursor(routing: Routing): string {
  return Buffer.from(JSON.stringify([routing.createdAt.toISOString(), routing.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const date = new Date(String(createdAt));
    if (
      typeof createdAt === 'string' &&
      !Number.isNaN(date.getTime()) &&
      typeof id === 'string' &&
      UUID.test(id)
    ) {
      return { createdAt: date, id };
    }
  } catch {
    // Reported below like any other malformed cursor.
  }
  throw validationFailed([{ path: 'cursor', message: 'not a cursor returned by this API' }]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
