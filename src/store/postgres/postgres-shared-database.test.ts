// What only the PostgreSQL store promises: several processes on one database
// keep one audit chain, hear each other's changes through NOTIFY, and an
// unreachable database fails fast and closed.
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../audit/chain.js';
import { LatchkeyError } from '../../errors/index.js';
import { generateToken, TokenHasher } from '../../token/index.js';
import { MAX_NOTIFY_BYTES } from '../change-feed.js';
import { ALICE, aRole, aToken, allAudit, decisions, expectChain, expectCode, withEnvironments } from '../contract/fixtures.js';
import { openStore } from '../index.js';
import { CHANGE_CHANNEL, type Store } from '../store.js';
import { AUDIT_LOCK } from './postgres-audit.js';
import { openPostgresStore } from './postgres-store.js';
import { useTestSchemas } from './test-schemas.js';

const schemas = useTestSchemas();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function twoStores(): Promise<{ url: string; a: Store; b: Store }> {
  const url = await schemas.newSchemaUrl();
  const [a, b] = await Promise.all([openPostgresStore({ url }), openPostgresStore({ url })]);
  closers.push(() => a.close(), () => b.close());
  return { url, a, b };
}

describe('postgres store shared by several processes', () => {
  it('keeps one contiguous, verifiable chain when two instances append at once', async () => {
    const { a, b } = await twoStores();
    await withEnvironments(a, 'prod');
    const work: Promise<unknown>[] = [];
    for (let round = 0; round < 10; round++) {
      work.push(a.appendAudit(decisions(40, round * 100)), b.appendAudit(decisions(40, round * 100 + 50)));
      work.push(a.createRole(aRole(`a${round}`), ALICE), b.createToken(aToken(), ALICE));
    }
    await Promise.all(work);
    const events = await allAudit(a);
    expect(events).toHaveLength(1 + 10 * (40 + 40 + 1 + 1));
    expectChain(events, 1, GENESIS_HASH);
    expect(await b.auditHead()).toEqual({ seq: events.length, hash: events.at(-1)!.hash });
  });

  it('announces a revocation to a separate LISTEN client, ids split across payloads that fit', async () => {
    const { url, a } = await twoStores();
    await withEnvironments(a, 'prod');
    const root = aToken();
    await a.createToken(root, ALICE);
    // Enough descendants that their ids cannot fit one NOTIFY payload.
    const children = Array.from({ length: 400 }, () => aToken({ parentId: root.id }));
    for (const child of children) await a.createToken(child, ALICE);

    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    closers.push(() => listener.end());
    const payloads: string[] = [];
    listener.on('notification', (message) => payloads.push(message.payload ?? ''));
    await listener.query(`LISTEN ${CHANGE_CHANNEL}`);

    const { ids } = await a.setTokenStatus(root.id, 'revoked', ALICE);
    expect(ids).toHaveLength(401);
    await expect.poll(() => payloads.flatMap((payload) => JSON.parse(payload).ids).length, { timeout: 5000 }).toBe(401);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) {
      expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
      expect(JSON.parse(payload)).toMatchObject({ type: 'token' });
    }
    expect(payloads.flatMap((payload) => JSON.parse(payload).ids).sort()).toEqual([...ids].sort());
  });

  it('stores the token hash and never the plaintext', async () => {
    const { url, a } = await twoStores();
    await withEnvironments(a, 'prod');
    const hasher = new TokenHasher(TokenHasher.generateKey());
    const plaintext = generateToken('prod');
    const token = aToken({ hash: hasher.hash(plaintext) });
    await a.createToken(token, ALICE);
    await a.setTokenStatus(token.id, 'disabled', ALICE);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    closers.push(() => client.end());
    const tables = await client.query<{ name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()',
    );
    expect(tables.rows.map((row) => row.name)).toEqual(expect.arrayContaining(['tokens', 'audit_events', 'meta']));
    let everything = '';
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${pg.escapeIdentifier(name)} t`);
      everything += rows.rows.map((row) => row.row).join('\n');
    }
    expect(everything).toContain(token.hash);
    expect(everything).not.toContain(plaintext);
    expect(everything).not.toContain(plaintext.slice(8, 40));
    const audit = await client.query<{ row: string }>('SELECT t::text AS row FROM audit_events t');
    expect(audit.rows.map((row) => row.row).join('\n')).not.toContain(token.hash);
  });

  it('is chosen by openStore for postgres:// and postgresql:// URLs', async () => {
    const url = await schemas.newSchemaUrl();
    for (const location of [url, url.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStore(location);
      closers.push(() => store.close());
      expect(store.dialect).toBe('postgres');
    }
  });
});

describe('postgres store when the database cannot be reached', () => {
  it('refuses to open with store_unavailable, quickly, when nothing listens', async () => {
    const started = Date.now();
    await expectCode(openPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/latchkey' }), 'store_unavailable');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('gives up within the connection timeout when the server never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const error = await openPostgresStore({ url: `postgres://postgres@127.0.0.1:${port}/latchkey` }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(LatchkeyError);
    expect((error as LatchkeyError).code).toBe('store_unavailable');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('turns a connection lost mid-transaction into store_unavailable, and recovers', async () => {
    const { a } = await twoStores();
    const admin = new pg.Client({ connectionString: schemas.databaseUrl });
    await admin.connect();
    closers.push(() => admin.end());
    // Hold the audit lock so the append waits inside its transaction, then cut its connection.
    await admin.query('SELECT pg_advisory_lock($1::bigint)', [AUDIT_LOCK]);
    const append = a.appendAudit(decisions(3));
    // Handled from the start: the rejection may come before expectCode below gets to await it.
    append.catch(() => undefined);
    const waiting = "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()";
    await expect.poll(async () => (await admin.query(`SELECT 1 ${waiting}`)).rowCount).toBe(1);
    await admin.query(`SELECT pg_terminate_backend(pid) ${waiting}`);
    await expectCode(append, 'store_unavailable');
    await admin.query('SELECT pg_advisory_unlock($1::bigint)', [AUDIT_LOCK]);
    await a.appendAudit(decisions(2));
    expect(await a.auditHead()).toMatchObject({ seq: 2 });
  });
});
