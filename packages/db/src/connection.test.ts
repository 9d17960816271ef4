import { pgPoolConfig, prismaAdapter } from './connection';

describe('pgPoolConfig', () => {
  it('sets the search_path of every connection to the schema', () => {
    expect(
      pgPoolConfig({
        databaseUrl: 'postgresql://u@h:5432/d',
        schema: 'gateway',
        max: 4,
        applicationName: 'gw',
      }),
    ).toEqual({
      connectionString: 'postgresql://u@h:5432/d',
      options: '-c search_path="gateway"',
      max: 4,
      application_name: 'gw',
    });
  });

  it('keeps options given in the URL, which pg would otherwise let win over ours', () => {
    const config = pgPoolConfig({
      databaseUrl: 'postgresql://u@h/d?sslmode=disable&options=-c%20statement_timeout%3D5000',
      schema: 'routing',
    });

    expect(config).toEqual({
      connectionString: 'postgresql://u@h/d?sslmode=disable',
      options: '-c statement_timeout=5000 -c search_path="routing"',
    });
  });
});

describe('prismaAdapter', () => {
  it("is Prisma's pg adapter, scoped to the schema", () => {
    const adapter = prismaAdapter({ databaseUrl: 'postgresql://u@h/d', schema: 'history' });

    expect(adapter.provider).toBe('postgres');
    expect(adapter.adapterName).toBe('@prisma/adapter-pg');
  });
});
