import pg from 'pg';
import type { HttpGatewayOptions } from '../../gateway/options.js';
import { GatewayWorld, binding, type IssuedToken } from '../../gateway/testing/world.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/postgres.js';
import type { TokenRecord } from '../../store/records.js';
import { loadSqlParser, postgresConnector, startPostgresGateway, type PostgresGateway, type PostgresGatewayOptions } from '../index.js';

// A PostgreSQL gateway test world: the HTTP gateway world's store, clock and
// recorder, a real database of its own on 127.0.0.1:5432 (the service's
// upstream, dropped at the end), and the PostgreSQL listener on the same data plane.

export const SERVICE = 'appdb';

export class PgWorld {
  readonly world: GatewayWorld;
  readonly database: TestDatabase;
  pg!: PostgresGateway;

  private constructor(world: GatewayWorld, database: TestDatabase) {
    this.world = world;
    this.database = database;
  }

  /** `schema` is run on the upstream database first (tables, rows). */
  static async start(
    schema: string,
    options: Partial<PostgresGatewayOptions> = {},
    extra: { readonly gateway?: (world: GatewayWorld) => Partial<HttpGatewayOptions>; readonly services?: (world: GatewayWorld) => Promise<void> } = {},
  ): Promise<PgWorld> {
    await loadSqlParser();
    const world = await GatewayWorld.sqlite();
    const database = await createTestDatabase();
    const self = new PgWorld(world, database);
    try {
      await self.direct(async (client) => void (await client.query(schema)));
      await world.addService(SERVICE, [binding('prod', `postgres://127.0.0.1:5432/${database.name}?user=postgres`)], { kind: 'postgres' });
      await extra.services?.(world);
      await world.start({ connectors: [postgresConnector()], ...extra.gateway?.(world) });
      self.pg = await startPostgresGateway({ plane: world.gateway.plane, listen: { host: '127.0.0.1', port: 0 }, logger: world.logger, clock: world.clock, ...options });
    } catch (err) {
      await self.close();
      throw err;
    }
    return self;
  }

  get port(): number {
    return this.pg.address.port;
  }

  issue(permissions: readonly string[], overrides: Partial<TokenRecord> = {}): Promise<IssuedToken> {
    return this.world.issue({ permissions: [...permissions], ...overrides });
  }

  /** A `pg` client through the gateway, connected. */
  async client(token: string, database = SERVICE): Promise<pg.Client> {
    const client = new pg.Client({ host: '127.0.0.1', port: this.port, database, user: 'job', password: token });
    await client.connect();
    return client;
  }

  /** A client straight to the upstream database, for verifying what really happened. */
  async direct<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.database.url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** The upstream's current connections to this world's database, other than the asking one. */
  upstreamConnections(): Promise<number> {
    return this.direct(async (client) => Number((await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0].n));
  }

  async close(): Promise<void> {
    await this.pg?.close();
    await this.world.close();
    await this.database.drop();
  }
}

/** The SQLSTATE and message of a refusal as the `pg` driver reports it. */
export function refusalOf(err: unknown): { code: string; message: string } {
  const failure = err as { code?: string; message?: string };
  return { code: failure.code ?? '', message: failure.message ?? '' };
}
