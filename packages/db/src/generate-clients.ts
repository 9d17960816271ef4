import { spawn } from 'node:child_process';
import path from 'node:path';
import { DbError } from './errors';
import { SERVICE_DATABASES, servicePrismaPaths, type ServiceName } from './service-databases';

/** Options for {@link generatePrismaClients}. */
export interface GeneratePrismaClientsOptions {
  /** Which services; all four by default. */
  services?: readonly ServiceName[];
  rootDir?: string;
}

/**
 * Runs `prisma generate` for each service's schema.prisma, producing `services/<svc>/src/generated/prisma`
 * (the generator's `output`). Works offline: see {@link generatePrismaClient}. Returns the schema paths.
 */
export async function generatePrismaClients(options: GeneratePrismaClientsOptions = {}): Promise<string[]> {
  const services = options.services ?? (Object.keys(SERVICE_DATABASES) as ServiceName[]);
  const schemaPaths = services.map((service) => servicePrismaPaths(service, options.rootDir).schemaPath);
  // Separate processes, so they may run side by side; each is about a second of CPU.
  await Promise.all(schemaPaths.map((schemaPath) => generatePrismaClient(schemaPath)));
  return schemaPaths;
}

/**
 * `prisma generate --schema <schemaPath>` with the workspace's prisma CLI.
 *
 * Every Prisma CLI command first makes sure a native schema engine is present and downloads one if not, which
 * fails offline. `generate` never runs that engine, so pointing `PRISMA_SCHEMA_ENGINE_BINARY` at any existing
 * file (here: the node binary) satisfies the check without a download.
 */
export async function generatePrismaClient(schemaPath: string): Promise<void> {
  const cli = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'index.js');
  const env = {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
    // No update check or telemetry calls home.
    CHECKPOINT_DISABLE: '1',
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  };
  const { code, output } = await run(process.execPath, [cli, 'generate', '--schema', schemaPath], env);
  if (code !== 0) {
    throw new DbError(
      'PRISMA_GENERATE_FAILED',
      `prisma generate failed for ${schemaPath} (exit ${code}):\n${output}`,
    );
  }
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
