import type { LatchkeyConfig } from '../config/index.js';
import { ensureDataDir, loadTokenHasher, parseDuration } from '../config/index.js';
import { loadOrCreateAuditKey } from '../audit/index.js';
import { LatchkeyError } from '../errors/index.js';
import { mintToken } from '../lifecycle/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { openStore } from '../store/index.js';
import { ensureDefaultEnvironments } from './environments.js';

// `latchkey init`: the root of trust is the data directory (or LATCHKEY_SECRET).
// Whoever can write it can mint the first admin token; nobody else can.

export interface InitOptions {
  readonly ttl: string;
  /** Mint another admin token on an initialized store (after losing the first). */
  readonly newAdminToken: boolean;
}

export interface InitResult {
  readonly adminToken: string;
  readonly tokenId: string;
  readonly expiresAt: number;
  readonly dataDir: string;
}

const INITIALIZED = 'initialized_at';

/** Whether `latchkey init` has run on this store (and so an admin token was minted). */
export async function isInitialized(store: { getMeta(key: string): Promise<string | undefined> }): Promise<boolean> {
  return (await store.getMeta(INITIALIZED)) !== undefined;
}

export async function initialize(config: LatchkeyConfig, options: InitOptions, now = Date.now()): Promise<InitResult> {
  const ttlMs = parseDuration(options.ttl);
  if (ttlMs === undefined) throw new LatchkeyError('invalid_request', `--ttl: expected a duration such as 90d, got ${JSON.stringify(options.ttl)}`);
  ensureDataDir(config.dataDir);
  const hasher = loadTokenHasher(config.dataDir, config.secret, true);
  await loadOrCreateAuditKey(config.dataDir);
  const store = await openStore(config.store);
  try {
    await ensureDefaultEnvironments(store, now);
    // Checked before the store is marked initialized, so a refused init leaves it as it was.
    const prod = (await store.getEnvironment('prod'))!;
    if (ttlMs > prod.maxTtlMs) throw new LatchkeyError('invalid_request', `--ttl: the prod environment allows at most ${prod.maxTtlMs / 86_400_000} days`);
    const marker = String(now);
    const inForce = await store.initMeta(INITIALIZED, marker);
    if (inForce !== marker && !options.newAdminToken) {
      throw new LatchkeyError('conflict', `the store is already initialized; to mint another admin token run: latchkey init --new-admin-token`);
    }
    const { record, token } = await mintToken(store, hasher, {
      name: 'admin',
      env: 'prod',
      owner: 'latchkey init',
      roles: [],
      permissions: ['latchkey:*'],
      expiresAt: now + ttlMs,
      notBefore: null,
      cidrs: [],
      rate: null,
      maxUses: null,
      honey: false,
      metadata: {},
      parentId: null,
    }, SYSTEM_ACTOR, now, null);
    return { adminToken: token, tokenId: record.id, expiresAt: record.expiresAt, dataDir: config.dataDir };
  } finally {
    await store.close();
  }
}
