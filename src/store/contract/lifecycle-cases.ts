// Opening, migrating and closing the store, its meta values, and the change
// feed, which must speak only of changes that committed.
import { describe, expect, it, vi } from 'vitest';
import type { Change, Store } from '../store.js';
import { ALICE, aRole, aService, expectCode, snapshot, useStore, type OpenStore } from './fixtures.js';

export function lifecycleCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('migrations', () => {
    it('run twice in a row without changing anything', async () => {
      const { store } = opened();
      await store.createRole(aRole('reader'), ALICE);
      const before = await snapshot(store);
      await store.migrate();
      await store.migrate();
      expect(await snapshot(store)).toEqual(before);
    });

    it('let two instances open the same store at once', async () => {
      const { store, reopen } = opened();
      if (reopen === undefined) return;
      await store.createRole(aRole('reader'), ALICE);
      const others = await Promise.all([reopen(), reopen()]);
      try {
        for (const other of others) {
          await other.ping();
          expect(await other.getRole('reader')).toEqual(aRole('reader'));
        }
      } finally {
        await Promise.all(others.map((other) => other.close()));
      }
    });
  });

  describe('meta', () => {
    it('sets a key only once and returns the value in force', async () => {
      const { store } = opened();
      expect(await store.getMeta('admin.created')).toBeUndefined();
      expect(await store.initMeta('admin.created', 'tok_first')).toBe('tok_first');
      expect(await store.initMeta('admin.created', 'tok_second')).toBe('tok_first');
      expect(await store.getMeta('admin.created')).toBe('tok_first');
    });

    it('lets exactly one of several racing initializers win', async () => {
      const { store, reopen } = opened();
      const others: Store[] = reopen === undefined ? [] : [await reopen(), await reopen()];
      try {
        const stores = [store, ...others];
        const values = await Promise.all(stores.map((s, i) => s.initMeta('marker', `value ${i}`)));
        expect(new Set(values).size).toBe(1);
      } finally {
        await Promise.all(others.map((other) => other.close()));
      }
    });
  });

  describe('change feed', () => {
    it('announces each committed change once, after it is visible to other connections', async () => {
      const { store, reopen } = opened();
      const observer = reopen === undefined ? store : await reopen();
      try {
        const heard: Change[] = [];
        const seenByOthers: Promise<unknown>[] = [];
        store.onChange((change) => {
          heard.push(change);
          if (change.type === 'role') seenByOthers.push(observer.getRole(change.name));
        });
        await store.createRole(aRole('reader'), ALICE);
        await store.createService(aService('orders'), ALICE);
        await expectCode(store.createRole(aRole('reader'), ALICE), 'conflict');
        expect(heard).toEqual([
          { type: 'role', name: 'reader' },
          { type: 'service', name: 'orders' },
        ]);
        expect(await Promise.all(seenByOthers)).toEqual([aRole('reader')]);
      } finally {
        if (observer !== store) await observer.close();
      }
    });

    it('survives a listener that throws, and stops calling one that unsubscribed', async () => {
      const { store } = opened();
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      try {
        const heard: Change[] = [];
        store.onChange(() => {
          throw new Error('listener bug');
        });
        const stop = store.onChange((change) => heard.push(change));
        await store.createRole(aRole('reader'), ALICE);
        stop();
        await store.deleteRole('reader', ALICE);
        expect(heard).toEqual([{ type: 'role', name: 'reader' }]);
        expect(await store.getRole('reader')).toBeUndefined();
        expect(warn).toHaveBeenCalled();
      } finally {
        warn.mockRestore();
      }
    });
  });

  describe('availability', () => {
    it('answers ping while open and refuses with store_unavailable once closed', async () => {
      const { store } = opened();
      await store.ping();
      await store.close();
      await store.close();
      await expectCode(store.getRole('reader'), 'store_unavailable');
      await expectCode(store.ping(), 'store_unavailable');
    });
  });
}
