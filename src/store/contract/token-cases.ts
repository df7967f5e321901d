// Tokens: creation and lookup, the audit record that never carries the hash,
// and status changes: revocation cascades to every descendant and is final.
import { describe, expect, it } from 'vitest';
import { tokenForAudit } from '../admin-event.js';
import {
  ALICE,
  T0,
  aToken,
  adminEventsAfter,
  allAudit,
  expectOneAdminEvent,
  expectRefused,
  useStore,
  withEnvironments,
  type OpenStore,
} from './fixtures.js';

export function tokenCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('tokens', () => {
    it('round-trips every field, and finds a token by id and by hash', async () => {
      const { store } = opened();
      await withEnvironments(store, 'prod');
      const parent = aToken();
      const token = aToken({
        parentId: parent.id,
        roles: ['reader', 'auditor'],
        permissions: ['orders:GET:/v1/**', '!orders:delete'],
        notBefore: T0 + 5,
        cidrs: ['10.0.0.0/8', '2001:db8::/32'],
        rate: { count: 100, periodMs: 60_000 },
        maxUses: 25,
        honey: true,
        metadata: { ticket: 'OPS-12', 'hash': 'not the token hash' },
      });
      await store.createToken(parent, ALICE);
      await store.createToken(token, ALICE);
      expect(await store.getToken(token.id)).toEqual(token);
      expect(await store.findTokenByHash(token.hash)).toEqual(token);
      expect(await store.getToken('tok_00000000000000000000')).toBeUndefined();
      expect(await store.findTokenByHash('0'.repeat(64))).toBeUndefined();
    });

    it('records the creation with the actor and the record, never its hash', async () => {
      const { store } = opened();
      await withEnvironments(store, 'prod');
      const head = await store.auditHead();
      const token = aToken();
      await store.createToken(token, ALICE);
      const event = await expectOneAdminEvent(store, head.seq, {
        action: 'token.create',
        target: token.id,
        before: null,
        after: tokenForAudit(token),
      });
      expect(event.detail).not.toHaveProperty('after.hash');
      expect(JSON.stringify(await allAudit(store))).not.toContain(token.hash);
    });

    it('refuses a duplicate id, a duplicate hash and an unknown environment, changing nothing', async () => {
      const { store } = opened();
      await withEnvironments(store, 'prod');
      const token = aToken();
      await store.createToken(token, ALICE);
      await expectRefused(store, 'conflict', () => store.createToken(aToken({ id: token.id }), ALICE));
      await expectRefused(store, 'conflict', () => store.createToken(aToken({ hash: token.hash }), ALICE));
      await expectRefused(store, 'invalid_request', () => store.createToken(aToken({ env: 'qa' }), ALICE));
      await expectRefused(store, 'invalid_request', () => store.createToken(aToken({ parentId: 'tok_00000000000000000000' }), ALICE));
    });
  });

  describe('token status', () => {
    async function family() {
      const { store } = opened();
      await withEnvironments(store, 'prod');
      const root = aToken({ name: 'root' });
      const child = aToken({ name: 'child', parentId: root.id });
      const sibling = aToken({ name: 'sibling', parentId: root.id });
      const grandchild = aToken({ name: 'grandchild', parentId: child.id });
      const stranger = aToken({ name: 'stranger' });
      for (const token of [root, child, sibling, grandchild, stranger]) await store.createToken(token, ALICE);
      return { store, root, child, sibling, grandchild, stranger };
    }

    it('revokes every descendant with one audit event that lists them', async () => {
      const { store, root, child, sibling, grandchild, stranger } = await family();
      const head = await store.auditHead();
      const result = await store.setTokenStatus(root.id, 'revoked', ALICE);
      const descendants = [child.id, sibling.id, grandchild.id].sort();
      expect(result).toEqual({ status: 'revoked', ids: [root.id, ...descendants] });
      for (const id of result.ids) expect((await store.getToken(id))?.status).toBe('revoked');
      expect((await store.getToken(stranger.id))?.status).toBe('active');
      const [event, ...more] = await adminEventsAfter(store, head.seq);
      expect(more).toEqual([]);
      expect(event!.detail).toMatchObject({
        actor: ALICE.name,
        actorTokenId: ALICE.tokenId,
        action: 'token.revoke',
        target: root.id,
        before: tokenForAudit(root),
        after: { id: root.id, status: 'revoked', cascaded: descendants },
      });
      expect(JSON.stringify(event)).not.toContain(root.hash);
    });

    it('revokes only the subtree below a middle token', async () => {
      const { store, root, child, grandchild, sibling } = await family();
      expect((await store.setTokenStatus(child.id, 'revoked', ALICE)).ids).toEqual([child.id, grandchild.id]);
      expect((await store.getToken(root.id))?.status).toBe('active');
      expect((await store.getToken(sibling.id))?.status).toBe('active');
    });

    it('treats revocation as final', async () => {
      const { store, root, child } = await family();
      await store.setTokenStatus(root.id, 'revoked', ALICE);
      await expectRefused(store, 'conflict', () => store.setTokenStatus(root.id, 'active', ALICE));
      await expectRefused(store, 'conflict', () => store.setTokenStatus(child.id, 'disabled', ALICE));
      await expectRefused(store, 'conflict', () => store.createToken(aToken({ parentId: root.id }), ALICE));
      const head = await store.auditHead();
      expect(await store.setTokenStatus(root.id, 'revoked', ALICE)).toEqual({ status: 'revoked', ids: [] });
      expect(await store.auditHead()).toEqual(head);
    });

    it('disables and enables one token without touching its children', async () => {
      const { store, root, child } = await family();
      const head = await store.auditHead();
      expect(await store.setTokenStatus(root.id, 'disabled', ALICE)).toEqual({ status: 'disabled', ids: [root.id] });
      expect((await store.getToken(root.id))?.status).toBe('disabled');
      expect((await store.getToken(child.id))?.status).toBe('active');
      await expectOneAdminEvent(store, head.seq, {
        action: 'token.disable',
        target: root.id,
        before: tokenForAudit(root),
        after: expect.objectContaining({ status: 'disabled', cascaded: [] }),
      });
      const disabled = await store.auditHead();
      expect(await store.setTokenStatus(root.id, 'disabled', ALICE)).toEqual({ status: 'disabled', ids: [] });
      expect(await store.auditHead()).toEqual(disabled);
      expect(await store.setTokenStatus(root.id, 'active', ALICE)).toEqual({ status: 'active', ids: [root.id] });
      await expectOneAdminEvent(store, disabled.seq, {
        action: 'token.enable',
        target: root.id,
        before: expect.objectContaining({ status: 'disabled' }),
        after: expect.objectContaining({ status: 'active', cascaded: [] }),
      });
      expect((await store.getToken(root.id))?.status).toBe('active');
    });

    it('reports an unknown token as not_found, changing nothing', async () => {
      const { store } = await family();
      await expectRefused(store, 'not_found', () => store.setTokenStatus('tok_00000000000000000000', 'revoked', ALICE));
    });
  });
}
