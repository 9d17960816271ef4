// amqps:// as docs/security.md describes it: the broker's certificate verified against a plant CA given to
// Node with NODE_EXTRA_CA_CERTS. The local broker has no TLS listener, so a TLS terminator in front of it
// (a self-signed certificate made here with openssl) stands in for one. connectBroker runs in a child
// process because Node reads NODE_EXTRA_CA_CERTS only at start.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as netConnect, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import { promisify } from 'node:util';
import { defineTopology } from '../src/topology';
import { AMQP_URL, deleteTopology, uniquePrefix } from './support/broker-harness';

const run = promisify(execFile);
let dir: string;
let terminator: Server;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mcms-amqps-'));
  const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
    ...['-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
  ]);
  const broker = new URL(AMQP_URL);
  terminator = createServer({ key: await readFile(key), cert: await readFile(cert) }, (tls) => {
    const plain = netConnect(Number(broker.port || 5672), broker.hostname);
    tls.pipe(plain).pipe(tls);
    const close = () => {
      tls.destroy();
      plain.destroy();
    };
    tls.on('error', close);
    plain.on('error', close);
  });
  await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
  port = (terminator.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => terminator?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** Runs connectBroker (the built package) in a child with `env`; 'connected' or the error. */
async function connectInChild(url: string, env: Record<string, string>): Promise<string> {
  const script = `
    const { connectBroker, defineTopology } = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist'))});
    const { createLogger } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'platform', 'dist'))});
    connectBroker({
      url: process.env.URL,
      topology: defineTopology({ prefix: process.env.PREFIX, queueType: 'classic', consumers: [] }),
      log: createLogger({ service: 'tls-test', level: 'silent' }),
      connectionName: 'tls-test',
    }).then(async (broker) => { console.log('connected'); await broker.close(); process.exit(0); },
            (err) => { console.log(String(err && err.message)); process.exit(0); });
    setTimeout(() => { console.log('timed out'); process.exit(0); }, 20000).unref();
  `;
  const prefix = uniquePrefix();
  try {
    const { stdout } = await run(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, URL: url, PREFIX: prefix, ...env },
      timeout: 30_000,
    });
    return stdout.trim();
  } finally {
    await deleteTopology(defineTopology({ prefix, queueType: 'classic', consumers: [] }));
  }
}

describe('amqps:// with a plant CA', () => {
  const url = () => {
    const broker = new URL(AMQP_URL);
    return `amqps://${broker.username}:${broker.password}@localhost:${port}`;
  };

  it('connects and declares the topology when the CA is given with NODE_EXTRA_CA_CERTS', async () => {
    expect(await connectInChild(url(), { NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem') })).toBe(
      'connected',
    );
  }, 60_000);

  it('refuses a broker whose certificate no trusted CA signed, instead of connecting anyway', async () => {
    expect(await connectInChild(url(), {})).toMatch(/self[- ]signed certificate/i);
  }, 60_000);
});
