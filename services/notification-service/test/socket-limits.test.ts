// The socket.io door's own limits: connections per user, message size, and what a refused client hears.
import { io } from 'socket.io-client';
import { SOCKET_TOO_MANY_CONNECTIONS } from '../src/adapters/notification-socket';
import {
  connectClient,
  createSharedInfrastructure,
  eventually,
  startNotificationService,
  type RunningNotificationService,
  type SharedInfrastructure,
  type TestClient,
} from './support';

let shared: SharedInfrastructure;
let service: RunningNotificationService;
const clients: TestClient[] = [];

beforeAll(async () => {
  shared = await createSharedInfrastructure();
  service = await startNotificationService(shared, 'limits', {
    socketLimits: { maxMessageBytes: 4096, connectTimeoutMs: 2_000, maxConnectionsPerUser: 2 },
  });
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  await service?.stop();
  await shared?.destroy();
});

function tokenOf(sub: string): string {
  return shared.jwt.sign({ sub, roles: ['viewer'] });
}

async function connect(sub: string): Promise<TestClient> {
  const client = await connectClient(service.baseUrl, { token: tokenOf(sub) });
  clients.push(client);
  return client;
}

/** Resolves with how a raw client's attempt ended: `connected`, or the reason it did not. */
function attempt(auth: Record<string, unknown>): Promise<string> {
  const socket = io(service.baseUrl, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err) => resolve(`connect_error: ${err.message}`));
    socket.io.once('close', (reason) => resolve(`closed: ${reason}`));
  }).finally(() => socket.close());
}

it('refuses one connection more than the per-user limit, and counts each user apart', async () => {
  await connect('alice');
  const second = await connect('alice');

  await expect(connectClient(service.baseUrl, { token: tokenOf('alice') })).rejects.toThrow(
    SOCKET_TOO_MANY_CONNECTIONS,
  );
  expect((await connect('bob')).socket.connected).toBe(true);

  second.close();
  await eventually(
    () => attempt({ token: tokenOf('alice') }).then((outcome) => outcome === 'connected' || undefined),
    'alice to be let in again after closing one connection',
  );
});

it('closes a handshake whose auth payload is over the message limit, before checking it', async () => {
  const outcome = await attempt({ token: tokenOf('carol'), padding: 'x'.repeat(8192) });

  expect(outcome).not.toBe('connected');
});

it('disconnects a client that sends a message over the limit', async () => {
  const client = await connect('dave');
  const disconnected = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));

  client.socket.emit('subscribe', { routingId: 'x'.repeat(8192) }, () => undefined);

  expect(await disconnected).toMatch(/transport (close|error)/);
});
