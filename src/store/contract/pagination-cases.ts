// Listing tokens: every filter combination, paged at any size, visits each
// matching token exactly once in the stable (createdAt, id) order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_PAGE } from '../token-cursor.js';
import type { TokenRecord } from '../records.js';
import type { Store, TokenFilter } from '../store.js';
import { ALICE, T0, aToken, expectCode, useStore, withEnvironments, type OpenStore } from './fixtures.js';

const NAMES = ['Deploy Alpha', 'deploy beta', 'ALPHA reports', 'nightly backup', 'alphabet soup'];
const ROLE_SETS = [[], ['reader'], ['writer'], ['reader', 'writer'], ['auditor', 'reader']];
const OWNERS = ['alice@example.com', 'bob@example.com', 'carol@example.com'];

/** 40 tokens with clashing creation times, two families, and every status. */
async function population(store: Store): Promise<TokenRecord[]> {
  await withEnvironments(store, 'prod', 'dev');
  const created: TokenRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const token = aToken({
      env: i % 3 === 0 ? 'dev' : 'prod',
      name: `${NAMES[i % NAMES.length]} ${i}`,
      roles: ROLE_SETS[i % ROLE_SETS.length],
      owner: OWNERS[i % OWNERS.length],
      // Five tokens share each creation time, so the id breaks ties.
      createdAt: T0 + Math.floor(i / 5),
      parentId: i >= 10 && i % 4 === 0 ? created[(i / 4) % 2]!.id : null,
    });
    await store.createToken(token, ALICE);
    created.push(token);
  }
  await store.setTokenStatus(created[1]!.id, 'revoked', ALICE);
  await store.setTokenStatus(created[2]!.id, 'disabled', ALICE);
  await store.setTokenStatus(created[7]!.id, 'disabled', ALICE);
  const current = await Promise.all(created.map((token) => store.getToken(token.id)));
  return current.map((token) => token!);
}

function matches(token: TokenRecord, filter: TokenFilter): boolean {
  return (
    (filter.env === undefined || token.env === filter.env) &&
    (filter.status === undefined || token.status === filter.status) &&
    (filter.owner === undefined || token.owner === filter.owner) &&
    (filter.parentId === undefined || token.parentId === filter.parentId) &&
    (filter.role === undefined || token.roles.includes(filter.role)) &&
    (filter.nameContains === undefined || token.name.toLowerCase().includes(filter.nameContains.toLowerCase()))
  );
}

function byCreation(a: TokenRecord, b: TokenRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function paginationCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('token lists', () => {
    it('visit every matching token exactly once across pages, for any filters and page size', async () => {
      const { store } = opened();
      const tokens = await population(store);
      const parents = [tokens[0]!.id, tokens[1]!.id];
      const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
      const filters = fc.record({
        env: maybe(fc.constantFrom('prod', 'dev')),
        status: maybe(fc.constantFrom('active' as const, 'disabled' as const, 'revoked' as const)),
        role: maybe(fc.constantFrom('reader', 'writer', 'auditor', 'nobody')),
        owner: maybe(fc.constantFrom(...OWNERS)),
        parentId: maybe(fc.constantFrom(...parents)),
        nameContains: maybe(fc.constantFrom('alpha', 'ALPHA', 'a', ' 1', 'zzz')),
        limit: fc.integer({ min: 1, max: 12 }),
      });
      await fc.assert(
        fc.asyncProperty(filters, async (filter) => {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThan(100);
            const page = await store.listTokens({ ...filter, cursor });
            seen.push(...page.items.map((token) => token.id));
            if (page.nextCursor === null) break;
            expect(page.items).toHaveLength(filter.limit);
            cursor = page.nextCursor;
          }
          const expected = tokens.filter((token) => matches(token, filter)).sort(byCreation);
          expect(seen).toEqual(expected.map((token) => token.id));
        }),
        { numRuns: 60 },
      );
    });

    it(`returns at most ${MAX_TOKEN_PAGE} tokens a page`, async () => {
      const { store } = opened();
      await withEnvironments(store, 'prod');
      for (let i = 0; i <= MAX_TOKEN_PAGE; i++) await store.createToken(aToken({ createdAt: T0 + i }), ALICE);
      const first = await store.listTokens({ limit: 10_000 });
      expect(first.items).toHaveLength(MAX_TOKEN_PAGE);
      expect(first.nextCursor).not.toBeNull();
      const rest = await store.listTokens({ limit: 10_000, cursor: first.nextCursor! });
      expect(rest.items).toHaveLength(1);
      expect(rest.nextCursor).toBeNull();
    });

    it('refuses a cursor it did not issue', async () => {
      const { store } = opened();
      await expectCode(store.listTokens({ limit: 10, cursor: 'not-a-cursor' }), 'invalid_request');
      await expectCode(store.listTokens({ limit: 10, cursor: Buffer.from('[1,2]').toString('base64url') }), 'invalid_request');
    });
  });
}
