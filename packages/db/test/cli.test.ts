import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../src/cli';
import { servicePrismaPaths, type ServiceName } from '../src/service-databases';
import { databaseUrl, dropSchemas, migrationsFixture, uniqueSchemaName } from './support';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) } };
}

function migrationsOf(service: ServiceName): string[] {
  const { migrationsDir } = servicePrismaPaths(service);
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

describe('the db CLI', () => {
  it('migrates the chosen services into their configured schemas and reports what it applied', async () => {
    const [gateway, routing] = [uniqueSchemaName('cli_gw'), uniqueSchemaName('cli_rt')];
    const env = {
      DATABASE_URL: databaseUrl,
      GATEWAY_DATABASE_SCHEMA: gateway,
      ROUTING_DATABASE_SCHEMA: routing,
    };
    const first = capture();
    const second = capture();
    try {
      const codes = [
        await runCli(['migrate', '--service', 'addin-gateway', '--service', 'routing-worker'], {
          env,
          ...first.io,
        }),
        await runCli(['migrate', '--service', 'addin-gateway'], { env, ...second.io }),
      ];

      expect(codes).toEqual([0, 0]);
      // Every committed migration of each service, in name order.
      expect(first.out).toEqual([
        `addin-gateway (schema ${gateway}): applied ${migrationsOf('addin-gateway').join(', ')}`,
        `routing-worker (schema ${routing}): applied ${migrationsOf('routing-worker').join(', ')}`,
      ]);
      expect(migrationsOf('addin-gateway')[0]).toMatch(/^\d{14}_messaging_tables$/);
      expect(second.out).toEqual([`addin-gateway (schema ${gateway}): up to date`]);
    } finally {
      await dropSchemas(gateway, routing);
    }
  });

  it('migrates from the folder --migrations-dir names, as a production bundle without a workspace does', async () => {
    const schema = uniqueSchemaName('cli_dir');
    const folder = await migrationsFixture({
      '20260101000000_only_here': 'CREATE TABLE "BundleOnly" ("id" TEXT PRIMARY KEY);',
    });
    const { out, io } = capture();
    try {
      const code = await runCli(
        [
          'migrate',
          '--service',
          'history-service',
          '--migrations-dir',
          path.relative(process.cwd(), folder.dir),
        ],
        { env: { DATABASE_URL: databaseUrl, HISTORY_DATABASE_SCHEMA: schema }, ...io },
      );

      expect(code).toBe(0);
      expect(out).toEqual([`history-service (schema ${schema}): applied 20260101000000_only_here`]);
    } finally {
      await dropSchemas(schema);
      await folder.cleanup();
    }
  });

  it('exits 2 when --migrations-dir comes without exactly one service', async () => {
    const { err, io } = capture();

    const code = await runCli(['migrate', '--migrations-dir', 'prisma/migrations'], { env: {}, ...io });

    expect(code).toBe(2);
    expect(err.join('\n')).toContain('--migrations-dir goes with migrate and one --service');
  });

  it('exits 1 with the reason when the configuration is wrong', async () => {
    const { err, io } = capture();

    const code = await runCli(['migrate', '--service', 'addin-gateway'], {
      env: { GATEWAY_DATABASE_SCHEMA: 'Not-A-Schema' },
      ...io,
    });

    expect(code).toBe(1);
    expect(err.join('\n')).toContain('error: [INVALID_SCHEMA_NAME] Invalid schema name "Not-A-Schema"');
  });

  it('exits 2 with usage for an unknown command or a diff without a name', async () => {
    const unknown = capture();
    const incomplete = capture();

    const codes = [
      await runCli(['migrat'], { env: {}, ...unknown.io }),
      await runCli(['diff', '--service', 'addin-gateway'], { env: {}, ...incomplete.io }),
    ];

    expect(codes).toEqual([2, 2]);
    expect(unknown.err.join('\n')).toContain('unknown command migrat');
    expect(incomplete.err.join('\n')).toContain('diff needs one --service and a --name');
  });
});
