import { createPgPool } from '../src/connection';
import { databaseUrl, withClient } from './support';

describe('createPgPool', () => {
  it('survives the server terminating a checked-out connection, and serves a fresh one after', async () => {
    // Found by the chaos run: PostgreSQL restarting (57P01) under a connection held between two queries
    // was an unhandled 'error' event that killed routing-worker.
    const errors: Error[] = [];
    let reported!: () => void;
    const lost = new Promise<void>((resolve) => (reported = resolve));
    const pool = createPgPool({
      databaseUrl,
      schema: 'public',
      max: 1,
      onConnectionError: (err) => {
        errors.push(err);
        reported();
      },
    });
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await withClient((admin) => admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]));
      await lost;
      client.release();

      expect(errors.map((err) => (err as { code?: string }).code)).toEqual(['57P01']);
      const fresh = await pool.query<{ one: number }>('SELECT 1 AS one');
      expect(fresh.rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
