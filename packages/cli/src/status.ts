import { databaseSchemaFor, databaseUrlFor, SERVICE_DATABASES, type ServiceName } from '@mcms/db';
import type { Logger } from '@mcms/platform';
import { Client } from 'pg';
import { queueDepth, serviceQueues, withBroker } from './broker';
import { cell, table, type CliIo } from './output';
import type { CliSettings } from './settings';

interface QueueRow {
  queue: string;
  role: 'work' | 'retry' | 'dead-letter';
  name: string;
  messages: number | null;
  consumers: number | null;
}

interface OutboxRow {
  service: ServiceName;
  schema: string;
  pending: number | null;
  lagSeconds: number | null;
  error?: string;
}

/**
 * The outbox of one service, read from its schema: rows not yet relayed and the age of the oldest. Read
 * from the database rather than scraped from `/metrics`: exact whatever the replica count, and available
 * when the service itself is down — which is when it matters.
 */
async function outboxOf(service: ServiceName, env: CliSettings['env']): Promise<OutboxRow> {
  const schema = databaseSchemaFor(service, env);
  const client = new Client({
    connectionString: databaseUrlFor(service, env),
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ pending: number; lag: number | null }>(
      `SELECT count(*)::int AS pending,
              EXTRACT(EPOCH FROM (clock_timestamp() - min(created_at)))::float8 AS lag
       FROM "${schema}".outbox_message`,
    );
    return { service, schema, pending: rows[0]?.pending ?? 0, lagSeconds: Math.max(0, rows[0]?.lag ?? 0) };
  } catch (err) {
    return { service, schema, pending: null, lagSeconds: null, error: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `mcms status`: every work, retry and dead-letter queue's depth, and every service's outbox lag. Exit 1 when something could not be read. */
export async function status({
  settings,
  io,
  log,
  json,
}: {
  settings: CliSettings;
  io: CliIo;
  log: Logger;
  json: boolean;
}): Promise<boolean> {
  const topology = serviceQueues(settings);
  const queues = await withBroker(settings, log, async (broker) => {
    const rows: QueueRow[] = [];
    for (const queue of topology.queues) {
      const depth = await queueDepth(broker, queue.name);
      rows.push({
        queue: queue.consumerQueue,
        role: queue.role,
        name: queue.name,
        messages: depth?.messages ?? null,
        consumers: depth?.consumers ?? null,
      });
    }
    return rows;
  });
  const services = Object.keys(SERVICE_DATABASES) as ServiceName[];
  const outboxes = await Promise.all(services.map((service) => outboxOf(service, settings.env)));
  const healthy =
    queues.every((row) => row.messages !== null) && outboxes.every((row) => row.error === undefined);

  if (json) {
    io.stdout(`${JSON.stringify({ queues, outboxes })}\n`);
    return healthy;
  }
  io.stdout(
    table(
      ['QUEUE', 'ROLE', 'MESSAGES', 'CONSUMERS', 'NAME'],
      queues.map((row) => [
        row.queue,
        row.role,
        row.messages === null ? 'missing' : String(row.messages),
        row.consumers === null ? '-' : String(row.consumers),
        row.name,
      ]),
    ),
  );
  io.stdout('\n');
  io.stdout(
    table(
      ['SERVICE', 'SCHEMA', 'OUTBOX ROWS', 'LAG (s)', 'ERROR'],
      outboxes.map((row) => [
        row.service,
        row.schema,
        row.pending === null ? '-' : String(row.pending),
        row.lagSeconds === null ? '-' : row.lagSeconds.toFixed(1),
        cell(row.error),
      ]),
    ),
  );
  return healthy;
}
