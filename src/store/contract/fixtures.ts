// Records and helpers the contract cases share. Times are fixed so that
// records compare exactly; ids and hashes are random so cases never collide.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect } from 'vitest';
import { hashEvent } from '../../audit/chain.js';
import type { AuditEvent, AuditEventInput, DecisionDetail } from '../../audit/event.js';
import { LatchkeyError, type ReasonCode } from '../../errors/index.js';
import { displayHint, newTokenId, type TokenHasher } from '../../token/index.js';
import type { Actor, Environment, Role, Service, TokenRecord } from '../records.js';
import type { Store } from '../store.js';

export interface OpenedStore {
  readonly store: Store;
  /** Opens a second Store instance on the same location (another connection or pool). */
  readonly reopen?: () => Promise<Store>;
  readonly cleanup: () => Promise<void>;
}

export type OpenStore = () => Promise<OpenedStore>;

export const ALICE: Actor = { tokenId: 'tok_a11ce000000000000000', name: 'alice' };
export const T0 = 1_767_225_600_000;

/** A fresh store for each case of the enclosing describe. */
export function useStore(open: OpenStore): () => OpenedStore {
  let current: OpenedStore | undefined;
  beforeEach(async () => {
    current = await open();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('no store is open');
    return current;
  };
}

export function anEnvironment(name: string, overrides: Partial<Environment> = {}): Environment {
  return { name, maxTtlMs: 90 * 86_400_000, createdAt: T0, ...overrides };
}

export function aService(name: string, overrides: Partial<Service> = {}): Service {
  return {
    name,
    kind: 'http',
    bindings: [
      {
        env: 'prod',
        upstream: 'https://api.example.com/v1',
        credential: { from: 'env', variable: 'ORDERS_TOKEN', header: 'Authorization', scheme: 'Bearer' },
      },
      { env: 'dev', upstream: 'unix:/run/orders.sock:/v1', credential: { from: 'none' } },
    ],
    tokenHeader: null,
    maxBodyBytes: 1_048_576,
    paths: 'exact',
    headerUnderscores: 'drop',
    sqlFunctions: [],
    hiddenTools: [],
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function aRole(name: string, overrides: Partial<Role> = {}): Role {
  return {
    name,
    description: `the ${name} role`,
    permissions: ['orders:read:/v1/orders/*', '!orders:delete'],
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/**
 * The one TokenRecord fixture, for the store contract, the gateway's test
 * world and the benchmarks. `issuedFor` gives the record of a real plaintext
 * (its keyed hash and display hint); otherwise the hash is random.
 */
export function aToken(overrides: Partial<TokenRecord> = {}, issuedFor?: { readonly token: string; readonly hasher: TokenHasher }): TokenRecord {
  if (issuedFor !== undefined) {
    overrides = { hash: issuedFor.hasher.hash(issuedFor.token), hint: displayHint(issuedFor.token), ...overrides };
  }
  return {
    id: newTokenId(),
    hash: randomBytes(32).toString('hex'),
    hint: 'lk_prod_…abcd',
    name: 'deploy bot',
    env: 'prod',
    owner: 'alice@example.com',
    roles: ['reader'],
    permissions: ['orders:read'],
    expiresAt: T0 + 3_600_000,
    notBefore: null,
    cidrs: [],
    rate: null,
    maxUses: null,
    status: 'active',
    parentId: null,
    honey: false,
    metadata: {},
    createdAt: T0,
    createdBy: ALICE.name,
    updatedAt: T0,
    ...overrides,
  };
}

export function aDecision(overrides: Partial<DecisionDetail> = {}): DecisionDetail {
  return {
    node: 'gw-1',
    tokenId: 'tok_0123456789abcdef0123',
    tokenName: 'deploy bot',
    env: 'prod',
    service: 'orders',
    action: 'GET',
    resource: '/v1/orders/7',
    decision: 'allow',
    reason: 'ok',
    matched: 'orders:read',
    upstreamStatus: 200,
    latencyMs: 3,
    client: '10.0.0.7',
    ...overrides,
  };
}

/** Environments the token cases need, created as the system would at init. */
export async function withEnvironments(store: Store, ...names: string[]): Promise<void> {
  for (const name of names) await store.createEnvironment(anEnvironment(name), ALICE);
}

export async function allAudit(store: Store): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for (;;) {
    const page = await store.readAudit({ afterSeq: events.at(-1)?.seq ?? 0, limit: 10_000 });
    events.push(...page);
    if (page.length < 10_000) return events;
  }
}

export async function allTokens(store: Store): Promise<TokenRecord[]> {
  const tokens: TokenRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listTokens({ limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    tokens.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return tokens;
}

/** Everything a failed mutation must leave as it was. */
export async function snapshot(store: Store): Promise<unknown> {
  return {
    environments: await store.listEnvironments(),
    services: await store.listServices(),
    roles: await store.listRoles(),
    tokens: await allTokens(store),
    audit: await allAudit(store),
    head: await store.auditHead(),
  };
}

export async function expectCode(promise: Promise<unknown>, code: ReasonCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(LatchkeyError);
  expect((error as LatchkeyError).code).toBe(code);
}

/** Runs a mutation that must fail with `code` and checks that it changed nothing, audit included. */
export async function expectRefused(store: Store, code: ReasonCode, mutation: () => Promise<unknown>): Promise<void> {
  const before = await snapshot(store);
  const heard: unknown[] = [];
  const stop = store.onChange((change) => heard.push(change));
  try {
    await expectCode(mutation(), code);
  } finally {
    stop();
  }
  expect(await snapshot(store)).toEqual(before);
  expect(heard, 'a failed mutation is not announced').toEqual([]);
}

/** The admin events written since `afterSeq`. */
export async function adminEventsAfter(store: Store, afterSeq: number): Promise<AuditEvent[]> {
  return store.readAudit({ kind: 'admin', afterSeq, limit: 10_000 });
}

/** Checks that exactly one admin event was written since `afterSeq`, by ALICE, with this change. */
export async function expectOneAdminEvent(
  store: Store,
  afterSeq: number,
  change: { action: string; target: string; before: unknown; after: unknown },
): Promise<AuditEvent> {
  const events = await adminEventsAfter(store, afterSeq);
  expect(events).toHaveLength(1);
  expect(events[0]!.detail).toEqual({ actor: ALICE.name, actorTokenId: ALICE.tokenId, ...change });
  return events[0]!;
}

/** Decision events numbered from `from`: three tokens, two services, one deny in five. */
export function decisions(count: number, from = 0): AuditEventInput[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'decision' as const,
    time: T0 + from + i,
    detail: aDecision({
      tokenId: `tok_${String((from + i) % 3).padStart(20, '0')}`,
      service: (from + i) % 2 === 0 ? 'orders' : 'billing',
      decision: (from + i) % 5 === 0 ? 'deny' : 'allow',
      reason: (from + i) % 5 === 0 ? 'permission_denied' : 'ok',
    }),
  }));
}

/** Checks what the audit module's verifier checks: contiguous seq, links, and hashes recomputed from stored fields. */
export function expectChain(events: readonly AuditEvent[], firstSeq: number, firstPrev: string): void {
  let prev = firstPrev;
  events.forEach((event, i) => {
    expect(event.seq).toBe(firstSeq + i);
    expect(event.prevHash).toBe(prev);
    expect(event.hash).toBe(hashEvent(event.seq, event.prevHash, { kind: event.kind, time: event.time, detail: event.detail } as AuditEventInput));
    prev = event.hash;
  });
}
