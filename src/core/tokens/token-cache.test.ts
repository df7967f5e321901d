// Races between a cache miss's store read and the change feed, made
// deterministic by holding the real store's read at a gate.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALWAYS_FRESH } from '../feed/feed-health.js';
import { GatewayWorld } from '../../gateway/testing/world.js';
import { compileTokenGrant } from './grant.js';
import { cacheKeyOf, TokenCache } from './token-cache.js';
import { TokenLoader } from './token-loader.js';

let world: GatewayWorld;
let cache: TokenCache;
let gate: Promise<void> = Promise.resolve();
let open: () => void = () => {};

beforeEach(async () => {
  world = await GatewayWorld.sqlite();
  const find = world.store.findTokenByHash.bind(world.store);
  world.store.findTokenByHash = async (hash) => {
    const record = await find(hash);
    await gate;
    return record;
  };
  const loader = new TokenLoader({
    store: world.store,
    catalog: () => ({ kindOf: () => 'http' }),
    compileGrant: compileTokenGrant,
    logger: pino({ level: 'silent' }),
    clock: world.clock,
    negativeTtlMs: 5000,
  });
  cache = new TokenCache({ loader, health: ALWAYS_FRESH, clock: world.clock, ttlMs: 60_000, maxEntries: 2, maxUnknown: 10 });
});
afterEach(() => world.close());

function hold(): void {
  gate = new Promise((resolve) => (open = resolve));
}

describe('TokenCache', () => {
  it('does not keep a read that raced a change to that token', async () => {
    const { token, record } = await world.issue({ permissions: ['orders:*'] });
    const hash = cacheKeyOf(token);
    hold();
    const loading = cache.load(hash, world.hasher.hash(token));
    cache.apply({ type: 'token', ids: [record.id] });
    open();
    expect((await loading).kind).toBe('token');
    expect(cache.lookup(hash, world.now)).toBeUndefined();
  });

  it('keeps a read that raced only unrelated changes', async () => {
    const { token } = await world.issue({ permissions: ['orders:*'] });
    const hash = cacheKeyOf(token);
    hold();
    const loading = cache.load(hash, world.hasher.hash(token));
    cache.apply({ type: 'token', ids: ['tok_someone_else'] });
    cache.apply({ type: 'role', name: 'unrelated' });
    open();
    await loading;
    expect(cache.lookup(hash, world.now)).toMatchObject({ kind: 'token' });
  });

  it('does not remember an unknown token across a token creation that raced it', async () => {
    hold();
    const loading = cache.load('unknown-key', 'f'.repeat(64));
    cache.apply({ type: 'token', ids: ['tok_new'] });
    open();
    expect((await loading).kind).toBe('unknown');
    expect(cache.lookup('unknown-key', world.now)).toBeUndefined();
  });

  it('evicts the oldest entry beyond its bound and drops descendants of a changed token', async () => {
    const parent = await world.issue({ permissions: ['orders:*'] });
    const child = await world.issue({ permissions: ['orders:read'], parentId: parent.record.id });
    const other = await world.issue({ permissions: ['orders:read'] });
    const [p, c, o] = [parent, child, other].map((t) => cacheKeyOf(t.token));
    const load = (key: string, token: string) => cache.load(key, world.hasher.hash(token));
    await load(p!, parent.token);
    await load(c!, child.token);
    expect(cache.size).toBe(2);
    cache.apply({ type: 'token', ids: [parent.record.id] });
    expect(cache.lookup(c!, world.now)).toBeUndefined();
    expect(cache.size).toBe(0);
    await load(p!, parent.token);
    await load(c!, child.token);
    await load(o!, other.token);
    expect(cache.size).toBe(2);
    expect(cache.lookup(p!, world.now)).toBeUndefined();
  });
});
