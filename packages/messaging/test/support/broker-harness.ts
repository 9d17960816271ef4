import { waitFor } from '@mcms/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, connect as tcpConnect, Socket, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { AddinJobResultCommand, createMessage, type MessageOf } from '@mcms/contracts';
import { createLogger, type Logger } from '@mcms/platform';
import { connect, type Channel, type GetMessage } from 'amqplib';
import type { Topology } from '../../src/topology';

const run = promisify(execFile);

/** The broker the broker-layer tests use; `TEST_AMQP_URL` overrides it. */
export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A prefix no other test (or parallel test file) uses: `t-1a2b3c4d.`. */
export function uniquePrefix(): string {
  return `t-${randomUUID().slice(0, 8)}.`;
}

export { waitFor };

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { level: string; msg?: string };

/** A real platform logger whose lines land in `lines` (debug and up). */
export function captureLogger(): { log: Logger; lines: LogLine[]; messages: (msg: string) => LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({
    service: 'messaging-test',
    level: 'debug',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  return { log, lines, messages: (msg) => lines.filter((line) => line.msg === msg) };
}

/** A valid AddinJobResultCommand with fresh ids. */
export function resultMessage(
  overrides: { correlationId?: string } = {},
): MessageOf<typeof AddinJobResultCommand> {
  return createMessage(
    AddinJobResultCommand,
    {
      jobId: randomUUID(),
      routingId: randomUUID(),
      resultStatus: 'completed',
      message: null,
      outputs: [],
      attempt: 1,
      deviceId: 'WS-042',
      finishedAt: new Date().toISOString(),
    },
    { correlationId: overrides.correlationId ?? `corr-${randomUUID()}` },
  );
}

/** A plain amqplib connection and channel for looking at the broker from the outside. */
export interface Admin {
  channel: Channel;
  /** The next message of `queue`, consumed; waits for one up to `timeoutMs`. */
  take(queue: string, timeoutMs?: number): Promise<GetMessage>;
  /** Ready messages in `queue`. */
  count(queue: string): Promise<number>;
  close(): Promise<void>;
}

export async function openAdmin(): Promise<Admin> {
  const connection = await connect(AMQP_URL, {
    clientProperties: { connection_name: `messaging-test-admin-${randomUUID().slice(0, 8)}` },
  });
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  return {
    channel,
    take: (queue, timeoutMs = 10_000) =>
      waitFor(async () => (await channel.get(queue, { noAck: true })) || undefined, {
        timeoutMs,
        intervalMs: 10,
        what: `a message in ${queue}`,
      }),
    count: async (queue) => (await channel.checkQueue(queue)).messageCount,
    close: () => connection.close().catch(() => {}),
  };
}

/** Deletes every queue and exchange of `topology` (a test's own prefix), ignoring ones already gone. */
export async function deleteTopology(topology: Topology): Promise<void> {
  const connection = await connect(AMQP_URL);
  connection.on('error', () => {});
  try {
    for (const name of [
      ...topology.queues.map((queue) => queue.name),
      ...topology.exchanges.map((exchange) => exchange.name),
    ]) {
      // A failed delete closes the channel, so each gets its own.
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      const isQueue = topology.queues.some((queue) => queue.name === name);
      await (isQueue ? channel.deleteQueue(name) : channel.deleteExchange(name)).catch(() => {});
      await channel.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

/** A connection as `rabbitmqctl list_connections` shows it. */
export interface BrokerConnection {
  name: string;
  peerPort: number;
  connectionName: string | undefined;
}

export async function listConnections(): Promise<BrokerConnection[]> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    'name',
    'peer_port',
    'client_properties',
    '--formatter',
    'json',
    '-q',
  ]);
  const rows = JSON.parse(stdout) as Array<{
    name: string;
    peer_port: number;
    client_properties?: unknown;
  }>;
  return rows.map((row) => ({
    name: row.name,
    peerPort: row.peer_port,
    connectionName: (Array.isArray(row.client_properties)
      ? (row.client_properties as Array<[string, string, unknown]>)
      : []
    ).find(([key]) => key === 'connection_name')?.[2] as string | undefined,
  }));
}

/** Our connection only (other test files run in parallel): found by its `connection_name`. */
export async function connectionNamed(connectionName: string): Promise<BrokerConnection> {
  const matches = (await listConnections()).filter(
    (connection) => connection.connectionName === connectionName,
  );
  if (matches.length !== 1)
    throw new Error(`expected one connection named ${connectionName}, found ${matches.length}`);
  return matches[0] as BrokerConnection;
}

/**
 * Looks up our connection (by `connection_name`) and returns a function that has the broker close it
 * (CONNECTION_FORCED), as an operator or a node shutdown would. Looking up first keeps the slow part
 * (rabbitmqctl listings) out of the moment of the kill.
 */
export async function prepareBrokerClose(connectionName: string): Promise<() => Promise<void>> {
  const { peerPort } = await connectionNamed(connectionName);
  // close_connection wants the Erlang pid, which only the plain (tab-separated) listing prints usably.
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    'pid',
    'peer_port',
    '-q',
    '--no-table-headers',
  ]);
  const pid = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find(([, port]) => Number(port) === peerPort)?.[0];
  if (!pid) throw new Error(`no connection pid for peer port ${peerPort}`);
  return async () => {
    await run('rabbitmqctl', ['close_connection', pid, 'closed by a messaging test', '-q']);
  };
}

/**
 * Looks up our client socket of the connection named `connectionName` (through the peer port the
 * broker reports for that name) and returns a function that destroys it: no AMQP close handshake.
 * With `error`, as a connection reset reports it; without, as code in this process closing it would
 * (amqplib alone does not notice that one).
 */
export async function prepareSocketDestroy(
  connectionName: string,
  error?: Error,
): Promise<() => Promise<void>> {
  const { peerPort } = await connectionNamed(connectionName);
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const socket = handles.find(
    (handle): handle is Socket => handle instanceof Socket && handle.localPort === peerPort,
  );
  if (!socket) throw new Error(`no socket of this process has local port ${peerPort}`);
  return async () => {
    socket.destroy(error);
  };
}

/** A TCP proxy in front of the broker that a test can cut and keep shut. */
export interface BrokerProxy {
  /** The broker URL through the proxy. */
  url: string;
  /** While shut, the proxy drops every open connection and refuses new ones. */
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

export async function startBrokerProxy(): Promise<BrokerProxy> {
  const target = new URL(AMQP_URL);
  const pairs = new Set<[Socket, Socket]>();
  let shut = false;
  const server = createServer((client) => {
    if (shut) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(target.port || 5672), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    shut() {
      shut = true;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    open() {
      shut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
