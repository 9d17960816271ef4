// TLS to PostgreSQL as the services connect (through pgPoolConfig). The local server runs without TLS, so
// what can be proven here is that asking for TLS is never silently downgraded to plaintext.
import pg from 'pg';
import { pgPoolConfig } from './connection';

const DATABASE_URL = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';

async function serverHasTls(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: string }>('SHOW ssl');
    return rows[0]?.ssl === 'on';
  } finally {
    await client.end();
  }
}

/** 'connected', or why the connection failed. */
async function connectWith(query: string): Promise<string> {
  const url = new URL(DATABASE_URL);
  for (const [key, value] of new URLSearchParams(query)) url.searchParams.set(key, value);
  const pool = new pg.Pool(pgPoolConfig({ databaseUrl: url.toString(), schema: 'public', max: 1 }));
  try {
    await pool.query('SELECT 1');
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await pool.end();
  }
}

describe('TLS to PostgreSQL through pgPoolConfig', () => {
  it('connects in plaintext only when sslmode=disable, and never falls back to it when TLS is asked for', async () => {
    const tls = await serverHasTls();
    expect(await connectWith('sslmode=disable')).toBe('connected');
    for (const query of [
      'sslmode=verify-full',
      'sslmode=require',
      // pgPoolConfig rewrites URLs that carry `options`: the TLS setting must survive that too.
      'sslmode=require&options=-c%20statement_timeout%3D5000',
    ]) {
      const outcome = await connectWith(query);
      if (tls) {
        // A server with TLS (e.g. Debian's snakeoil certificate): verify-full refuses an unknown CA.
        expect([query, outcome]).not.toEqual([query, 'connected']);
      } else {
        expect([query, outcome]).toEqual([query, 'The server does not support SSL connections']);
      }
    }
  });
});
