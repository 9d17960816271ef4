import { Client, escapeIdentifier, type ClientConfig } from 'pg';

/** What {@link listenForNotifications} needs. */
export interface ListenOptions {
  /** A dedicated connection: LISTEN holds it for the process's lifetime. */
  clientConfig: ClientConfig;
  channel: string;
  /** Called for every NOTIFY on the channel, with its payload ('' when none). */
  onNotify: (payload: string) => void;
  /**
   * Called after every (re)connection once LISTEN is in place: a NOTIFY sent while nobody listened
   * is lost, so the caller looks at its table now.
   */
  onListening: () => void;
  /** Where connection losses and recoveries are reported; `what` names the listener in those lines. */
  log: { warn(obj: object, msg: string): void; info(msg: string): void };
  what: string;
  /** Reconnect backoff: doubles from `initialDelayMs` up to `maxDelayMs`, with full jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** A running LISTEN; `stop()` closes it and never reconnects afterwards. */
export interface Listening {
  stop(): Promise<void>;
}

/**
 * LISTENs on `channel` on its own connection and keeps doing so: a lost connection (a database
 * restart, a network cut) is re-opened with backoff, and `onListening` runs after each reconnect so
 * the caller can catch up on what it missed. PostgreSQL channel names are identifiers: at most 63
 * bytes, or LISTEN would silently wait on a truncated name.
 */
export async function listenForNotifications(options: ListenOptions): Promise<Listening> {
  const { channel, log, what } = options;
  if (Buffer.byteLength(channel) > 63) throw new Error(`channel name too long for PostgreSQL: ${channel}`);
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const config: ClientConfig = { keepAlive: true, connectionTimeoutMillis: 10_000, ...options.clientConfig };
  let stopped = false;
  let failures = 0;
  let client: Client | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    if (stopped) return;
    const current = new Client(config);
    client = current;
    let lost = false;
    const onLost = (err?: Error): void => {
      if (lost) return;
      lost = true;
      if (client === current) client = undefined;
      current.end().catch(() => undefined);
      if (stopped) return;
      failures += 1;
      const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failures - 1, 20));
      const delay = Math.floor(ceiling / 2 + (Math.random() * ceiling) / 2);
      log.warn({ err, retryInMs: delay }, `${what} LISTEN connection lost; reconnecting`);
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        void listen();
      }, delay);
    };
    current.on('error', onLost);
    current.on('end', () => onLost());
    current.on('notification', (message) => options.onNotify(message.payload ?? ''));
    try {
      await current.connect();
      await current.query(`LISTEN ${escapeIdentifier(channel)}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (stopped) {
      await current.end().catch(() => undefined);
      return;
    }
    if (failures > 0) log.info(`${what} LISTEN connection restored`);
    failures = 0;
    options.onListening();
  }

  await listen();
  return {
    async stop() {
      stopped = true;
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const closing = client?.end().catch(() => undefined);
      client = undefined;
      await closing;
    },
  };
}
