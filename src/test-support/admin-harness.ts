// A real admin API on loopback, on a real SQLite file or a real PostgreSQL
// database, with its logs captured so tests can search them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildAdminServer, type AdminContext, type AdminServer } from '../admin/index.js';
import { loadOrCreateAuditKey } from '../audit/index.js';
import { loadConfig, type ConfigFile } from '../config/config.js';
import { CredentialPolicy, OwnListeners } from '../core/services/index.js';
import { mintToken } from '../lifecycle/index.js';
import { createLogger } from '../server/logger.js';
import { ensureDefaultEnvironments } from '../server/environments.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { TokenHasher } from '../token/index.js';
import { createTestDatabase } from './postgres.js';

export type StoreKind = 'sqlite' | 'postgres';

export interface AdminHarness {
  readonly url: string;
  readonly app: AdminServer;
  readonly dataDir: string;
  readonly store: Store;
  readonly hasher: TokenHasher;
  readonly adminToken: string;
  readonly sqliteFile: string | null;
  readonly pgUrl: string | null;
  readonly logs: () => string;
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; text: string }>;
  /** Mints a token straight through the store (no API), for setting up cases. */
  mint(permissions: string[], env?: string): Promise<string>;
  close(): Promise<void>;
}

export interface AdminHarnessOptions {
  /** Written as the harness's latchkey.json, from which the credential allow-list is read as `latchkey serve` reads it. */
  readonly config?: ConfigFile;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Context fields a test wires in (GitHub keys, alerts). */
  readonly extra?: Partial<AdminContext>;
}

export async function startAdminHarness(kind: StoreKind, now: () => number = Date.now, options: AdminHarnessOptions = {}): Promise<AdminHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-admin-'));
  const db = kind === 'postgres' ? await createTestDatabase() : null;
  const sqliteFile = kind === 'sqlite' ? join(dir, 'latchkey.db') : null;
  const store = await openStore(db?.url ?? sqliteFile!);
  let logText = '';
  const sink = new Writable({ write(chunk, _enc, done) { logText += chunk.toString(); done(); } });
  const logger = createLogger('debug', sink);
  const hasher = new TokenHasher(TokenHasher.generateKey());
  await ensureDefaultEnvironments(store, now());
  const auditKey = await loadOrCreateAuditKey(dir);
  const configFile = join(dir, 'latchkey.json');
  writeFileSync(configFile, JSON.stringify(options.config ?? {}));
  const config = loadConfig({ configFile, dataDir: dir, store: db?.url ?? sqliteFile! }, {});
  const ownListeners = new OwnListeners();
  const context = { store, hasher, logger, now, auditPublicKey: auditKey.publicKey, dataDir: dir, credentials: CredentialPolicy.forConfig(config), ownListeners, ...options.extra };
  const app: AdminServer = await buildAdminServer({ context });
  await app.listen({ host: options.host ?? '127.0.0.1', port: 0 });
  const address = app.server.address();
  for (const bound of app.addresses()) {
    if (typeof bound === 'string') ownListeners.addSocket('admin', bound);
    else ownListeners.add('admin', bound.address, bound.port);
  }
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

  const mint = async (permissions: string[], env = 'prod') =>
    (await mintToken(store, hasher, {
      name: `test-${permissions.join('|').slice(0, 40)}`, env, owner: 'test', roles: [], permissions,
      expiresAt: now() + 86_400_000, notBefore: null, cidrs: [], rate: null, maxUses: null, honey: false, metadata: {}, parentId: null,
    }, SYSTEM_ACTOR, now(), null)).token;
  const adminToken = await mint(['latchkey:*']);

  return {
    url, app, dataDir: dir, store, hasher, adminToken, sqliteFile, pgUrl: db?.url ?? null,
    logs: () => logText,
    mint,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      const token = options.token === undefined ? adminToken : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined && { body }) });
      const text = await response.text();
      let parsed: unknown = undefined;
      try { parsed = text === '' ? undefined : JSON.parse(text); } catch { parsed = undefined; }
      return { status: response.status, body: parsed, text };
    },
    async close() {
      await app.close();
      await store.close();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
