import { describe, expect, it } from 'vitest';
import type { CurrentState, Holder } from './current.js';
import { makePlan } from './plan.js';
import { readLatchkeyFile } from './read-file.js';

// The plan on its own, from a server state given as data (the CLI tests run it against a real server).

const holder: Holder = { id: 'tok_1', name: 'ci', env: 'dev', expiresAt: '2030-01-01T00:00:00.000Z' };

const state: CurrentState = {
  environments: [{ name: 'dev', maxTtlMs: 365 * 86_400_000 }],
  services: [{
    name: 'orders', kind: 'http', paths: 'exact', headerUnderscores: 'drop', tokenHeader: null, maxBodyBytes: 10 * 1024 * 1024,
    sqlFunctions: [], hiddenTools: [], bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9000', credential: { from: 'none' } }],
  }],
  roles: [{ name: 'reader', description: '', permissions: ['orders:read:/v1/**', '!orders:read:/v1/admin/**'] }],
};

async function planFor(permissions: string[]) {
  const text = `services:\n  orders:\n    kind: http\n    bindings:\n      dev: { upstream: "http://127.0.0.1:9000" }\nroles:\n  reader:\n    permissions:\n${permissions.map((p) => `      - '${p}'`).join('\n')}\n`;
  return makePlan(readLatchkeyFile(text, 'f'), state, { prune: false, holdersOf: async () => [holder] });
}

describe('the plan of a held role', () => {
  it('lets a held role narrow: a deny added, an allow made smaller', async () => {
    for (const permissions of [
      ['orders:read:/v1/**', '!orders:read:/v1/admin/**', '!orders:read:/v1/secret/**'],
      ['orders:GET:/v1/orders/*', '!orders:read:/v1/admin/**'],
    ]) {
      const [change] = (await planFor(permissions)).changes;
      expect(change).toMatchObject({ op: 'update', kind: 'role', refusal: null, holders: [holder] });
    }
  });

  it('says the server will refuse a widening: an allow added, or a deny dropped', async () => {
    for (const permissions of [['orders:read:/v1/**'], ['orders:read:/v1/**', '!orders:read:/v1/admin/**', 'orders:POST:/v1/orders']]) {
      const [change] = (await planFor(permissions)).changes;
      expect(change!.refusal).toMatch(/^the server will refuse this: the change widens role reader/);
    }
  });

  it('finds nothing to change when the file says what the server holds', async () => {
    expect((await planFor(['orders:read:/v1/**', '!orders:read:/v1/admin/**'])).changes).toEqual([]);
  });
});
