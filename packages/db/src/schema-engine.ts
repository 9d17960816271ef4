/**
 * The one module that touches `@prisma/schema-engine-wasm`: an internal, unsupported Prisma API.
 *
 * Why it exists: Prisma's CLI diffs and creates migrations only through its native schema engine, which it
 * downloads at run time — impossible on this offline machine and in closed plant networks. The wasm build of
 * the same engine runs in-process and talks to PostgreSQL through a driver adapter. Its `diff` works that way;
 * its `createMigration` does not, so callers write the migration folder themselves.
 *
 * What it needs, each patched here and nowhere else:
 * 1. Catalog column types. The engine reads `pg_constraint.contype` and friends, of PostgreSQL's internal
 *    `"char"` type, which `@prisma/adapter-pg` refuses ("Column type 'char' could not be deserialized").
 *    Open upstream issue: https://github.com/prisma/orm/issues/27403 — when it is fixed, drop patch 1.
 * 2. A shadow factory. `PrismaPg.connectToShadowDb()` creates a shadow database but connects with the main
 *    connection string, whose database name wins in pg — so migrations land in the main database. Ours hands
 *    the engine a throw-away schema (same database, no CREATEDB needed) and drops it afterwards.
 * 3. Whole scripts. `PrismaPgAdapter.executeScript` splits on `;`, breaking dollar-quoted function bodies such
 *    as our outbox trigger; we send a script whole, as Prisma's native engine does.
 *
 * Upgrading Prisma: re-run the drift test; it exercises every patch here. If the CLI ever diffs offline
 * (`prisma migrate diff --from-migrations … --to-schema …` without downloading an engine), delete this module.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import type * as AdapterPgModule from '@prisma/adapter-pg';
import type * as AdapterUtilsModule from '@prisma/driver-adapter-utils';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type * as EngineModule from '@prisma/schema-engine-wasm/schema_engine_bg';
import type * as PgModule from 'pg';
import { pgPoolConfig } from './connection';
import { DbError } from './errors';
import { quoteSchema } from './identifiers';
import { MIGRATION_LOCK_CONTENT, type MigrationFile } from './migration-files';

/** Input for {@link diffMigrationsToSchema}. */
export interface DiffMigrationsInput {
  /** The database that hosts the throw-away shadow schema (dropped afterwards). */
  databaseUrl: string;
  /** The committed migrations, in order: the "from" side. */
  migrations: MigrationFile[];
  migrationsDir: string;
  /** The target: schema.prisma's path (for error messages) and content. */
  schemaPath: string;
  schemaContent: string;
  /** Name of the throw-away schema; a random `prisma_shadow_*` one by default. */
  shadowSchema?: string;
  /** Receives the engine's JSON log lines. */
  log?: (line: string) => void;
}

interface Deps {
  engine: typeof EngineModule;
  pg: typeof PgModule;
  PrismaPg: typeof AdapterPgModule.PrismaPg;
  utils: typeof AdapterUtilsModule;
}

// Just what we use of the WebAssembly global, which our `lib` setting (no DOM) doesn't declare.
interface WasmApi {
  instantiate(
    bytes: Uint8Array,
    imports: object,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

let depsPromise: Promise<Deps> | undefined;

function loadDeps(): Promise<Deps> {
  depsPromise ??= (async () => {
    const load = await nodeLoader();
    const engine = (await load('@prisma/schema-engine-wasm/schema_engine_bg')) as typeof EngineModule;
    const wasmPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg').replace(/\.js$/, '.wasm');
    // The glue module is cached per process and holds one wasm instance; under Jest it outlives each test
    // file's module registry, so instantiate only if nobody has yet (`version()` throws until then).
    if (!engineReady(engine)) {
      const { WebAssembly } = globalThis as unknown as { WebAssembly: WasmApi };
      const bytes = await readFile(wasmPath);
      const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': engine });
      engine.__wbg_set_wasm(instance.exports);
      (instance.exports.__wbindgen_start as () => void)();
    }
    return {
      engine,
      pg: (await load('pg')) as typeof PgModule,
      PrismaPg: ((await load('@prisma/adapter-pg')) as typeof AdapterPgModule).PrismaPg,
      utils: (await load('@prisma/driver-adapter-utils')) as typeof AdapterUtilsModule,
    };
  })();
  // A failed load is not cached: the next call tries again and reports its own error.
  depsPromise.catch(() => (depsPromise = undefined));
  return depsPromise;
}

function engineReady(engine: typeof EngineModule): boolean {
  try {
    engine.version();
    return true;
  } catch {
    return false;
  }
}

/**
 * How to load the engine and the adapter code it calls back into. The package is ESM whose entry imports a
 * `.wasm` file, which Node 20 can't load, so we instantiate the wasm next to its glue module ourselves.
 * Plain Node (>= 20.19) `require()`s that ESM glue. Under Jest it can't, and objects from Jest's sandbox
 * realm would fail the glue's `instanceof Promise` checks anyway ("WASM_ERROR: Unknown error"), so there the
 * glue and the adapter stack are all imported in Node's main context instead.
 */
async function nodeLoader(): Promise<(specifier: string) => Promise<unknown>> {
  try {
    require(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
    return async (specifier) => require(specifier) as unknown;
  } catch {
    const importInMainContext = vm.runInThisContext('(url) => import(url)', {
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }) as (url: string) => Promise<{ default?: unknown }>;
    return async (specifier) => {
      const namespace = await importInMainContext(pathToFileURL(require.resolve(specifier)).href);
      // A CommonJS module's exports arrive as the namespace's default.
      return specifier.endsWith('schema_engine_bg') ? namespace : namespace.default;
    };
  }
}

/**
 * The SQL that takes a database with all `migrations` applied to the state `schemaContent` describes, in
 * Prisma's migration style (`-- CreateTable`, quoted identifiers). Empty string when they agree.
 * Objects Prisma can't model (functions, triggers) are invisible to the diff, so hand-written ones never show up.
 */
export async function diffMigrationsToSchema(input: DiffMigrationsInput): Promise<string> {
  const deps = await loadDeps();
  const shadowSchema = input.shadowSchema ?? `prisma_shadow_${randomBytes(8).toString('hex')}`;
  const factory = shadowSchemaFactory(deps, input.databaseUrl, shadowSchema);
  try {
    const result = await withEngine(deps, factory, input, (engine) =>
      engine.diff({
        from: { tag: 'migrations', ...migrationList(input.migrationsDir, input.migrations) },
        to: { tag: 'schemaDatamodel', files: [{ path: input.schemaPath, content: input.schemaContent }] },
        script: true,
        exitCode: null,
        filters: NO_FILTERS,
      }),
    );
    return normalizeScript(result.stdout ?? '');
  } catch (err) {
    throw new DbError(
      'SCHEMA_DIFF_FAILED',
      `Diffing migrations against ${input.schemaPath} failed: ${message(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    await factory.dispose();
  }
}

/** Input for {@link diagnoseMigrationHistory}. */
export interface DiagnoseHistoryInput {
  databaseUrl: string;
  schema: string;
  migrationsDir: string;
  migrations: MigrationFile[];
}

/**
 * What Prisma's own engine (the code behind `prisma migrate status`/`deploy`) makes of a schema's
 * `_prisma_migrations` next to the migration files: pending, edited and failed migrations. Read-only.
 * The tests use it to prove the runner's history is one Prisma accepts as its own.
 */
export async function diagnoseMigrationHistory(
  input: DiagnoseHistoryInput,
): Promise<EngineModule.DiagnoseMigrationHistoryOutput> {
  const deps = await loadDeps();
  const opened: SqlDriverAdapter[] = [];
  const pgFactory = new deps.PrismaPg(
    pgPoolConfig({ databaseUrl: input.databaseUrl, schema: input.schema, max: 1 }),
    { schema: input.schema },
  );
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: pgFactory.adapterName,
    connect: async () => {
      const adapter = await pgFactory.connect();
      opened.push(adapter);
      return adapter;
    },
    connectToShadowDb: () => Promise.reject(new Error('diagnosing history never needs a shadow database')),
  };
  try {
    return await withEngine(deps, factory, {}, (engine) =>
      engine.diagnoseMigrationHistory({
        migrationsList: migrationList(input.migrationsDir, input.migrations),
        optInToShadowDatabase: false,
        filters: NO_FILTERS,
      }),
    );
  } finally {
    await Promise.all(opened.map((adapter) => adapter.dispose().catch(() => {})));
  }
}

const NO_FILTERS = { externalTables: [], externalEnums: [] };

function migrationList(migrationsDir: string, migrations: MigrationFile[]): EngineModule.MigrationList {
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: MIGRATION_LOCK_CONTENT },
    shadowDbInitScript: '',
    migrationDirectories: migrations.map((migration) => ({
      path: migration.name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: migration.sql } },
    })),
  };
}

/** Runs `fn` on an engine connected through `factory`, freeing the engine's memory afterwards. */
async function withEngine<T>(
  deps: Deps,
  factory: SqlMigrationAwareDriverAdapterFactory,
  options: { schemaPath?: string; schemaContent?: string; log?: (line: string) => void },
  fn: (engine: EngineModule.SchemaEngine) => Promise<T>,
): Promise<T> {
  const datamodels: [string, string][] | undefined =
    options.schemaPath === undefined || options.schemaContent === undefined
      ? undefined
      : [[options.schemaPath, options.schemaContent]];
  const engine = await withDeadline(
    deps.engine.SchemaEngine.new(
      { datamodels },
      (line: string) => options.log?.(line),
      deps.utils.bindMigrationAwareSqlAdapterFactory(factory),
    ),
  );
  try {
    return await withDeadline(fn(engine));
  } finally {
    engine.free();
  }
}

/** The engine reports "no changes" as a comment-only script; treat that as empty. */
function normalizeScript(script: string): string {
  const meaningful = script.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--'));
  return meaningful ? script.trim() + '\n' : '';
}

// A panic inside the wasm can leave its promise unsettled forever (prisma/orm#29635); fail instead of hanging.
const ENGINE_DEADLINE_MS = 120_000;

async function withDeadline<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the schema engine did not answer within ${ENGINE_DEADLINE_MS} ms`)),
      ENGINE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// OIDs of internal catalog types the engine selects but adapter-pg 7.10 has no column type for: "char",
// int2vector, regproc, xid, oidvector, pg_node_tree, regclass, regtype, regnamespace. Their text form is
// exactly what the engine expects, so we report them as text (OID 25).
const CATALOG_TYPE_OIDS = new Set([18, 22, 24, 28, 30, 194, 2205, 2206, 4089]);
const TEXT_OID = 25;

type QueryResultLike = { fields?: { dataTypeID: number }[] };

function asTextColumns<R>(result: R): R {
  for (const one of (Array.isArray(result) ? result : [result]) as QueryResultLike[]) {
    for (const field of one?.fields ?? []) {
      if (CATALOG_TYPE_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

/** Patch 1: a pg Client whose results describe catalog-typed columns as text. */
function catalogTypesAsTextClient(pg: typeof PgModule): typeof PgModule.Client {
  const Client = class extends pg.Client {};
  const query = pg.Client.prototype.query;
  Client.prototype.query = function patchedQuery(this: PgModule.Client, ...args: unknown[]) {
    const first = args[0] as { submit?: unknown } | undefined;
    if (typeof first?.submit === 'function') return query.apply(this, args as never);
    const last = args.at(-1);
    if (typeof last === 'function') {
      const callback = last as (err: Error | null, result: unknown) => void;
      args[args.length - 1] = (err: Error | null, result: unknown) =>
        callback(err, err ? result : asTextColumns(result));
      return query.apply(this, args as never);
    }
    return (query.apply(this, args as never) as unknown as Promise<unknown>).then(asTextColumns);
  } as typeof query;
  return Client;
}

interface ShadowFactory extends SqlMigrationAwareDriverAdapterFactory {
  dispose(): Promise<void>;
}

/**
 * Patches 2 and 3. The engine's main connection points at the shadow schema too: the engine takes the diff
 * target's namespace from it, and any other name would render the whole diff as a move between schemas.
 */
function shadowSchemaFactory(deps: Deps, databaseUrl: string, shadowSchema: string): ShadowFactory {
  const Client = catalogTypesAsTextClient(deps.pg);
  const opened: SqlDriverAdapter[] = [];
  const admin = async (sql: string) => {
    const client = new deps.pg.Client({
      connectionString: databaseUrl,
      application_name: 'mcms-schema-diff',
    });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const connect = async (): Promise<SqlDriverAdapter> => {
    const config = {
      ...pgPoolConfig({ databaseUrl, schema: shadowSchema, max: 2, applicationName: 'mcms-schema-diff' }),
      Client,
    };
    const adapter = await new deps.PrismaPg(config, { schema: shadowSchema }).connect();
    adapter.executeScript = async (script: string) => {
      try {
        await adapter.underlyingDriver().query(script);
      } catch (err) {
        const e = err as PgModule.DatabaseError;
        throw new deps.utils.DriverAdapterError({
          kind: 'postgres',
          code: e.code ?? 'N/A',
          severity: e.severity ?? 'N/A',
          message: e.message,
          detail: e.detail,
          column: e.column,
          hint: e.hint,
        });
      }
    };
    opened.push(adapter);
    return adapter;
  };
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect,
    async connectToShadowDb() {
      await admin(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(shadowSchema)}`);
      return connect();
    },
    async dispose() {
      // The engine disposes what it is done with; ending a pool twice only rejects, which is fine here.
      await Promise.all(opened.map((adapter) => adapter.dispose().catch(() => {})));
      await admin(`DROP SCHEMA IF EXISTS ${quoteSchema(shadowSchema)} CASCADE`);
    },
  };
}
