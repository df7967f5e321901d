// Roles held by tokens: a held role may narrow but not widen, cannot be
// deleted, and a token whose roles changed since its ceiling was checked is
// refused. The store enforces these inside its transaction (role-rules.ts).
import { describe, expect, it } from 'vitest';
import { ALICE, aRole, aToken, anEnvironment, expectOneAdminEvent, expectRefused, useStore, type OpenStore } from './fixtures.js';

const HOUR = 3_600_000;

export function roleCases(open: OpenStore): void {
  const opened = useStore(open);
  const live = (overrides: Parameters<typeof aToken>[0] = {}) => aToken({ roles: ['reader'], expiresAt: Date.now() + HOUR, ...overrides });
  const reader = aRole('reader', { permissions: ['orders:read:/v1/**'] });

  describe('roles held by tokens', () => {
    it('updates a role in place, with one admin event and a role change', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await store.createRole(reader, ALICE);
      const head = await store.auditHead();
      const heard: unknown[] = [];
      store.onChange((change) => heard.push(change));
      const narrower = { ...reader, description: 'narrower', permissions: ['orders:read:/v1/orders/**'], updatedAt: reader.updatedAt + 1 };
      await store.updateRole(narrower, ALICE, { expected: reader.permissions, widens: false });
      expect(await store.getRole('reader')).toEqual(narrower);
      expect(heard).toEqual([{ type: 'role', name: 'reader' }]);
      await expectOneAdminEvent(store, head.seq, { action: 'role.update', target: 'reader', before: reader, after: narrower });
    });

    it('refuses to delete or widen a role a live token holds, and changes nothing', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await store.createRole(reader, ALICE);
      await store.createToken(live({ status: 'disabled' }), ALICE);
      await expectRefused(store, 'conflict', () => store.deleteRole('reader', ALICE));
      const wider = { ...reader, permissions: ['orders:*'] };
      await expectRefused(store, 'conflict', () => store.updateRole(wider, ALICE, { expected: reader.permissions, widens: true }));
      await store.updateRole({ ...reader, permissions: ['orders:GET:/v1/x'] }, ALICE, { expected: reader.permissions, widens: false });
      expect((await store.getRole('reader'))!.permissions).toEqual(['orders:GET:/v1/x']);
    });

    it('lets a role go once no live token holds it: revoked and expired holders do not count', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await store.createRole(reader, ALICE);
      const held = live();
      await store.createToken(held, ALICE);
      await store.createToken(aToken({ roles: ['reader'], expiresAt: Date.now() - 1 }), ALICE);
      await store.setTokenStatus(held.id, 'revoked', ALICE);
      await store.updateRole({ ...reader, permissions: ['orders:*'] }, ALICE, { expected: reader.permissions, widens: true });
      await store.deleteRole('reader', ALICE);
      expect(await store.getRole('reader')).toBeUndefined();
    });

    it('refuses a change judged against permissions that have changed since', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await store.createRole(reader, ALICE);
      await expectRefused(store, 'conflict', () => store.updateRole({ ...reader, permissions: ['orders:GET'] }, ALICE, { expected: ['orders:*'], widens: false }));
      await expectRefused(store, 'not_found', () => store.updateRole(aRole('nope'), ALICE, { expected: [], widens: false }));
    });

    it('refuses a token whose roles differ from the ones its ceiling was checked against', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await store.createRole(reader, ALICE);
      await expectRefused(store, 'conflict', () => store.createToken(live(), ALICE, [{ name: 'reader', permissions: ['orders:*'] }]));
      await expectRefused(store, 'conflict', () => store.createToken(live({ roles: ['reader', 'gone'] }), ALICE, [reader, { name: 'gone', permissions: [] }]));
      const token = live();
      await store.createToken(token, ALICE, [reader]);
      expect((await store.getToken(token.id))!.roles).toEqual(['reader']);
    });

    it('orders a mint and a deletion of its role on two connections: the role survives or the token is refused', async () => {
      const { store, reopen } = opened();
      if (reopen === undefined) return;
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      const other = await reopen();
      try {
        for (let round = 0; round < 10; round++) {
          const role = { ...reader, name: `r${round}` };
          await store.createRole(role, ALICE);
          const token = live({ roles: [role.name] });
          const [minted, deleted] = await Promise.allSettled([
            store.createToken(token, ALICE, [role]),
            other.deleteRole(role.name, ALICE),
          ]);
          const tokenExists = (await store.getToken(token.id)) !== undefined;
          const roleExists = (await store.getRole(role.name)) !== undefined;
          expect(tokenExists).toBe(minted.status === 'fulfilled');
          expect(roleExists).toBe(deleted.status === 'rejected');
          // Never a token holding a role that is gone (and could come back wider).
          expect(tokenExists && !roleExists).toBe(false);
        }
      } finally {
        await other.close();
      }
    });
  });
}
