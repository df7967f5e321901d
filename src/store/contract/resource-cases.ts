// Environments, services and roles: create, read, change, and the refusals
// that must leave the store and its audit log exactly as they were.
import { describe, expect, it } from 'vitest';
import { ALICE, aRole, aService, anEnvironment, expectOneAdminEvent, expectRefused, useStore, type OpenStore } from './fixtures.js';

export function resourceCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('environments', () => {
    it('creates, reads and lists them in name order', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('staging', { maxTtlMs: 365 * 86_400_000 }), ALICE);
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      expect(await store.getEnvironment('prod')).toEqual(anEnvironment('prod'));
      expect(await store.getEnvironment('qa')).toBeUndefined();
      expect((await store.listEnvironments()).map((env) => env.name)).toEqual(['prod', 'staging']);
    });

    it('records one admin event per creation', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await expectOneAdminEvent(store, 0, { action: 'environment.create', target: 'prod', before: null, after: anEnvironment('prod') });
    });

    it('refuses a duplicate with conflict and changes nothing', async () => {
      const { store } = opened();
      await store.createEnvironment(anEnvironment('prod'), ALICE);
      await expectRefused(store, 'conflict', () => store.createEnvironment(anEnvironment('prod', { maxTtlMs: 1 }), ALICE));
    });
  });

  describe('services', () => {
    it('round-trips every field, bindings and credential sources included', async () => {
      const { store } = opened();
      const service = aService('orders', { kind: 'mcp', tokenHeader: 'X-Latchkey-Token', maxBodyBytes: 4096, paths: 'lenient', headerUnderscores: 'refuse', hiddenTools: ['admin_*'] });
      const database = aService('appdb', { kind: 'postgres', sqlFunctions: ['lower', 'analytics.score'] });
      await store.createService(database, ALICE);
      await store.createService(service, ALICE);
      await store.createService(aService('billing'), ALICE);
      expect(await store.getService('orders')).toEqual(service);
      expect(await store.getService('nope')).toBeUndefined();
      expect(await store.getService('appdb')).toEqual(database);
      expect((await store.listServices()).map((s) => s.name)).toEqual(['appdb', 'billing', 'orders']);
    });

    it('updates a service and records before and after', async () => {
      const { store } = opened();
      const before = aService('orders');
      await store.createService(before, ALICE);
      const head = await store.auditHead();
      const after = aService('orders', {
        bindings: [{ env: 'prod', upstream: 'https://orders.internal', credential: { from: 'file', path: '/run/secret', header: 'X-Key', scheme: '' } }],
        paths: 'case-insensitive',
        headerUnderscores: 'allow',
        updatedAt: before.updatedAt + 1000,
      });
      await store.updateService(after, ALICE);
      expect(await store.getService('orders')).toEqual(after);
      await expectOneAdminEvent(store, head.seq, { action: 'service.update', target: 'orders', before, after });
    });

    it('removes a service and records what it was', async () => {
      const { store } = opened();
      await store.createService(aService('orders'), ALICE);
      const head = await store.auditHead();
      await store.removeService('orders', ALICE);
      expect(await store.getService('orders')).toBeUndefined();
      await expectOneAdminEvent(store, head.seq, { action: 'service.remove', target: 'orders', before: aService('orders'), after: null });
    });

    it('refuses duplicates and missing services, changing nothing', async () => {
      const { store } = opened();
      await store.createService(aService('orders'), ALICE);
      await expectRefused(store, 'conflict', () => store.createService(aService('orders', { kind: 'postgres' }), ALICE));
      await expectRefused(store, 'not_found', () => store.updateService(aService('billing'), ALICE));
      await expectRefused(store, 'not_found', () => store.removeService('billing', ALICE));
    });
  });

  describe('roles', () => {
    it('creates, reads, lists and deletes them', async () => {
      const { store } = opened();
      await store.createRole(aRole('writer', { permissions: [] }), ALICE);
      await store.createRole(aRole('reader'), ALICE);
      expect(await store.getRole('reader')).toEqual(aRole('reader'));
      expect((await store.listRoles()).map((role) => role.name)).toEqual(['reader', 'writer']);
      await store.deleteRole('writer', ALICE);
      expect(await store.getRole('writer')).toBeUndefined();
      expect((await store.listRoles()).map((role) => role.name)).toEqual(['reader']);
    });

    it('records one admin event for each creation and deletion', async () => {
      const { store } = opened();
      await store.createRole(aRole('reader'), ALICE);
      await expectOneAdminEvent(store, 0, { action: 'role.create', target: 'reader', before: null, after: aRole('reader') });
      const head = await store.auditHead();
      await store.deleteRole('reader', ALICE);
      await expectOneAdminEvent(store, head.seq, { action: 'role.delete', target: 'reader', before: aRole('reader'), after: null });
    });

    it('refuses duplicates and missing roles, changing nothing', async () => {
      const { store } = opened();
      await store.createRole(aRole('reader'), ALICE);
      await expectRefused(store, 'conflict', () => store.createRole(aRole('reader', { description: 'other' }), ALICE));
      await expectRefused(store, 'not_found', () => store.deleteRole('writer', ALICE));
    });
  });
}
