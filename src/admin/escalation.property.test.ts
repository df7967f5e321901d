// Property: whatever sequence of admin operations random holders perform
// through the real admin API — minting, creating, changing and deleting roles —
// no token ever holds an admin capability that one of its creators did not
// hold when it minted. Capabilities are enumerated (every admin action in every
// environment, and every service it may hand out there) and read from each
// token's effective grant as the admin API resolves it now, roles included.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminScope, ADMIN_ACTIONS, parsePermissions } from '../policy/index.js';
import type { CompiledGrant } from '../policy/types.js';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';
import { effectiveGrant } from './principal.js';

const ENVS = ['prod', 'dev'] as const;
const SERVICES = ['orders', 'shop'] as const;
const ROLE_NAMES = ['r1', 'r2', 'r3'] as const;
const PERMISSIONS = [
  'latchkey:*',
  'latchkey:tokens.create',
  'latchkey:tokens.create:dev',
  'latchkey:tokens.create:dev:orders',
  'latchkey:tokens.create:prod:*',
  '!latchkey:tokens.create:prod',
  'latchkey:roles.write',
  'latchkey:roles.read',
  'latchkey:tokens.read:dev',
  'latchkey:services.write:dev',
  'latchkey:check',
  'orders:read',
  'orders:*',
  'shop:GET:/v1/**',
] as const;

type Op =
  | { readonly op: 'mint'; readonly by: number; readonly env: (typeof ENVS)[number]; readonly roles: string[]; readonly permissions: string[] }
  | { readonly op: 'createRole' | 'updateRole'; readonly by: number; readonly name: string; readonly permissions: string[] }
  | { readonly op: 'deleteRole'; readonly by: number; readonly name: string };

const subset = <T>(values: readonly T[], max: number) => fc.uniqueArray(fc.constantFrom(...values), { maxLength: max });
// 0 is the root admin; any other number picks one of the minted holders.
const holder = fc.integer({ min: 0, max: 3 });
const rootOp = fc.constant(0);
// Each sequence opens with the root admin creating every role and minting a few
// tokens with admin rights, so that later holders have something to misuse.
const opening: fc.Arbitrary<Op[]> = fc.tuple(
  fc.tuple(...ROLE_NAMES.map((name) => fc.record({ op: fc.constant('createRole' as const), by: rootOp, name: fc.constant(name), permissions: subset(PERMISSIONS, 3).filter((p) => p.length > 0) }))),
  fc.array(fc.record({ op: fc.constant('mint' as const), by: rootOp, env: fc.constantFrom(...ENVS), roles: subset(ROLE_NAMES, 2), permissions: subset(PERMISSIONS, 4) }), { minLength: 2, maxLength: 4 }),
).map(([roles, mints]) => [...roles, ...mints]);
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mint' as const), by: holder, env: fc.constantFrom(...ENVS), roles: subset(ROLE_NAMES, 2), permissions: subset(PERMISSIONS, 3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('updateRole' as const), by: holder, name: fc.constantFrom(...ROLE_NAMES), permissions: subset(PERMISSIONS, 3).filter((p) => p.length > 0) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('createRole' as const), by: holder, name: fc.constantFrom(...ROLE_NAMES), permissions: subset(PERMISSIONS, 3).filter((p) => p.length > 0) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteRole' as const), by: holder, name: fc.constantFrom(...ROLE_NAMES) }) },
);

/** Every admin capability a grant has: `action@env`, and `delegate:service@env` for what tokens.create may hand out. */
function capabilities(grant: CompiledGrant): Set<string> {
  const held = new Set<string>();
  for (const env of ENVS) {
    for (const action of ADMIN_ACTIONS) if (grant.decideAdmin(action, env).allowed) held.add(`${action}@${env}`);
    if (!grant.decideAdmin('tokens.create', env).allowed) continue;
    for (const service of SERVICES) {
      const delegated = grant.permissions.some((p) => {
        if (p.effect !== 'allow' || p.service !== 'latchkey' || (p.action !== '*' && p.action !== 'tokens.create')) return false;
        const scope = adminScope(p.resource);
        return (scope.env === undefined || scope.env === env) && (scope.delegates === '*' || scope.delegates === service);
      });
      if (delegated) held.add(`delegate:${service}@${env}`);
    }
  }
  return held;
}

interface Minted {
  readonly id: string;
  readonly token: string;
  /** What each creator up the chain held when it minted, nearest first. */
  readonly creators: readonly Set<string>[];
}

describe('admin operations by random holders', () => {
  let h: AdminHarness;

  beforeAll(async () => {
    h = await startAdminHarness('sqlite');
    for (const name of SERVICES) {
      expect((await h.call('POST', '/v1/services', { body: { name, kind: 'http', bindings: [{ env: 'dev', upstream: 'http://127.0.0.1:9' }] } })).status).toBe(201);
    }
  });
  afterAll(async () => h?.close());

  async function capabilitiesOf(id: string): Promise<Set<string>> {
    const record = (await h.store.getToken(id))!;
    return capabilities(await effectiveGrant(h.store, record, h.app.log as never));
  }

  it('never lets a token hold an admin capability outside what its chain of creators held', async () => {
    // Every generated permission is valid, so refusals come from the rules, not from typos.
    expect(() => parsePermissions([...PERMISSIONS], { kindOf: (s) => (SERVICES.includes(s as never) ? 'http' : undefined) })).not.toThrow();
    const rootRecord = (await h.store.findTokenByHash(h.hasher.hash(h.adminToken)))!;
    const root: Minted = { id: rootRecord.id, token: h.adminToken, creators: [] };
    let mints = 0;
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(fc.tuple(opening, fc.array(opArbitrary, { minLength: 6, maxLength: 16 })), async ([first, then]) => {
        const ops = [...first, ...then];
        // Roles left by an earlier run are renamed per run, so each sequence starts clean.
        const run = `p${mints}x${refusals}`;
        const roleName = (name: string) => `${run}-${name}`;
        const tokens: Minted[] = [root];
        for (const op of ops) {
          const by = op.by === 0 || tokens.length === 1 ? root : tokens[1 + ((op.by - 1) % (tokens.length - 1))]!;
          const byCapabilities = await capabilitiesOf(by.id);
          let response;
          switch (op.op) {
            case 'mint':
              response = await h.call('POST', '/v1/tokens', {
                token: by.token,
                body: { name: 'prop', env: op.env, roles: op.roles.map(roleName), permissions: op.permissions, ttl: '1h', ...(op.roles.length + op.permissions.length === 0 && { permissions: ['orders:read'] }) },
              });
              if (response.status === 201) tokens.push({ id: response.body.id, token: response.body.token, creators: [byCapabilities, ...by.creators] });
              break;
            case 'createRole':
              response = await h.call('POST', '/v1/roles', { token: by.token, body: { name: roleName(op.name), permissions: op.permissions } });
              break;
            case 'updateRole':
              response = await h.call('PUT', `/v1/roles/${roleName(op.name)}`, { token: by.token, body: { permissions: op.permissions } });
              break;
            case 'deleteRole':
              response = await h.call('DELETE', `/v1/roles/${roleName(op.name)}`, { token: by.token });
              break;
          }
          if (response.status >= 400) refusals++;
          else if (op.op === 'mint') mints++;
          expect(response.status, JSON.stringify(response.body)).toBeLessThan(500);
          for (const minted of tokens) {
            if (minted.creators.length === 0) continue;
            const now = await capabilitiesOf(minted.id);
            for (const creator of minted.creators) {
              const outside = [...now].filter((capability) => !creator.has(capability));
              expect(outside, `token ${minted.id} after ${JSON.stringify(op)}`).toEqual([]);
            }
          }
        }
      }),
      { numRuns: 150, seed: 20261202 },
    );
    // The sequences did exercise both outcomes.
    expect(mints).toBeGreaterThan(20);
    expect(refusals).toBeGreaterThan(20);
  // 150 random sequences of real admin requests: about 10 s alone, several times that on a loaded 2-core machine.
  }, 180_000);
});
