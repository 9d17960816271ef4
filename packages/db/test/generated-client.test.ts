import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { applyMigrations, generatePrismaClient, prismaAdapter, servicePrismaPaths } from '../src/index';
import { databaseUrl, dropSchemas, packageScratchDir, uniqueSchemaName, withClient } from './support';

// Just what this test uses of a generated client; the type-check test below proves the real types.
interface OutboxRow {
  id: bigint;
  messageId: string;
  exchange: string;
  routingKey: string;
  envelope: unknown;
  createdAt: Date;
}
interface GeneratedClient {
  outboxMessage: {
    create(args: { data: Omit<OutboxRow, 'id' | 'createdAt'> }): Promise<OutboxRow>;
    findUniqueOrThrow(args: { where: { messageId: string } }): Promise<OutboxRow>;
  };
  $disconnect(): Promise<void>;
}
type GeneratedModule = { PrismaClient: new (options: { adapter: unknown }) => GeneratedClient };

describe('a client generated from a service schema', () => {
  let scratch: string;

  beforeAll(async () => {
    // A copy of the gateway's schema, generated under packages/db where @prisma/client resolves (the
    // services don't declare it yet) — the same generator and options as `cli.js generate` uses.
    scratch = await packageScratchDir('generated-client');
    await mkdir(path.join(scratch, 'prisma'));
    await copyFile(
      servicePrismaPaths('addin-gateway').schemaPath,
      path.join(scratch, 'prisma', 'schema.prisma'),
    );
    await generatePrismaClient(path.join(scratch, 'prisma', 'schema.prisma'));
  }, 60_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('writes and reads an outbox message in its own schema through the pg adapter, offline', async () => {
    const schema = uniqueSchemaName('client');
    const { PrismaClient } = require(
      path.join(scratch, 'src', 'generated', 'prisma', 'client'),
    ) as GeneratedModule;
    const prisma = new PrismaClient({ adapter: prismaAdapter({ databaseUrl, schema, max: 2 }) });
    try {
      await applyMigrations({
        databaseUrl,
        schema,
        migrationsDir: servicePrismaPaths('addin-gateway').migrationsDir,
      });
      const messageId = randomUUID();
      const created = await prisma.outboxMessage.create({
        data: {
          messageId,
          exchange: 'mcms.events',
          routingKey: 'mcms.job.completed',
          envelope: { messageId, n: 1 },
        },
      });
      const read = await prisma.outboxMessage.findUniqueOrThrow({ where: { messageId } });

      expect(typeof created.id).toBe('bigint');
      expect(read).toEqual({ ...created, envelope: { messageId, n: 1 } });
      const rows = await withClient((client) =>
        client.query(`SELECT routing_key FROM "${schema}".outbox_message WHERE message_id = $1`, [messageId]),
      );
      expect(rows.rows).toEqual([{ routing_key: 'mcms.job.completed' }]);
    } finally {
      await prisma.$disconnect();
      await dropSchemas(schema);
    }
  });

  it('type-checks under the workspace settings (strict, nodenext, CommonJS) when imported', async () => {
    await writeFile(
      path.join(scratch, 'use.ts'),
      `import { PrismaClient } from './src/generated/prisma/client';
import { prismaAdapter } from '${path.relative(scratch, path.join(__dirname, '..', 'src', 'index'))}';

export async function roundTrip(): Promise<bigint> {
  const prisma = new PrismaClient({ adapter: prismaAdapter({ databaseUrl: 'postgresql://x', schema: 'gateway' }) });
  const row = await prisma.outboxMessage.create({
    data: { messageId: 'id', exchange: 'mcms.events', routingKey: 'k', envelope: { a: 1 } },
  });
  const messageId: string = row.messageId;
  return messageId ? row.id : 0n;
}
`,
    );
    await writeFile(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        extends: path.join(__dirname, '..', '..', '..', 'tsconfig.base.json'),
        compilerOptions: {
          noEmit: true,
          composite: false,
          incremental: false,
          declaration: false,
          declarationMap: false,
        },
        include: ['use.ts', 'src'],
      }),
    );

    const { code, output } = await run(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      '-p',
      scratch,
    ]);

    expect(output).toBe('');
    expect(code).toBe(0);
  }, 60_000);
});

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
