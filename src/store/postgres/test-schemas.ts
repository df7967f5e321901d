// For tests: one PostgreSQL database per test file (src/test-support), and in
// it a fresh schema per case, selected through the URL's search_path, so each
// case starts from an empty store without the cost of a new database.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/postgres.js';

export interface TestSchemas {
  /** A URL whose connections use a new, empty schema. */
  newSchemaUrl(): Promise<string>;
  /** The test database itself, for clients that inspect it. */
  readonly databaseUrl: string;
}

export function useTestSchemas(): TestSchemas {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  const current = (): TestDatabase => {
    if (database === undefined) throw new Error('the test database is not created yet');
    return database;
  };
  return {
    get databaseUrl() {
      return current().url;
    },
    async newSchemaUrl() {
      const schema = `case_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: current().url });
      await client.connect();
      try {
        await client.query(`CREATE SCHEMA ${schema}`);
      } finally {
        await client.end();
      }
      const url = new URL(current().url);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return url.toString();
    },
  };
}
