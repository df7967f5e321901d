// The audit chain as the store keeps it: batches link onto the head, what is
// read back re-hashes to what was written, pruning keeps the head, and
// checkpoints come back newest first.
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../audit/chain.js';
import type { AuditEvent, AuditEventInput } from '../../audit/event.js';
import type { AuditCheckpoint, Store } from '../store.js';
import { ALICE, T0, aToken, allAudit, decisions, expectChain, expectCode, useStore, type OpenStore } from './fixtures.js';

/**
 * Appends of the given sizes, event n (from 0) at T0 + (n * step) % period, so
 * times run out of seq order and repeat; then one admin change (its own time,
 * its actor's token). Every event, as read back.
 */
async function appendScattered(store: Store, sizes: readonly number[], step: number, period: number): Promise<AuditEvent[]> {
  let from = 0;
  for (const size of sizes) {
    await store.appendAudit(decisions(size, from).map((event, i) => ({ ...event, time: T0 + ((from + i) * step) % period })));
    from += size;
  }
  await store.createRole({ name: 'reader', description: '', permissions: [], createdAt: T0, updatedAt: T0 }, ALICE);
  return allAudit(store);
}

export function auditCases(open: OpenStore): void {
  const opened = useStore(open);

  describe('audit chain', () => {
    it('redacts every event where it is linked, admin changes written inside a store transaction included', async () => {
      const { store } = opened();
      const pasted = 'lk_prod_' + 'Q'.repeat(38);
      await store.createEnvironment({ name: 'prod', maxTtlMs: 86_400_000, createdAt: T0 }, ALICE);
      const token = aToken({ roles: [], name: 'plain', metadata: { note: `left here: ${pasted}`, auth: 'Bearer s3cr3t-value.xyz' } });
      await store.createToken(token, ALICE);
      const decision = decisions(1)[0]!;
      if (decision.kind === 'decision') await store.appendAudit([{ ...decision, detail: { ...decision.detail, resource: `/x/${pasted}` } }]);
      const stored = await allAudit(store);
      expect(JSON.stringify(stored)).not.toContain(pasted);
      expect(JSON.stringify(stored)).not.toContain('s3cr3t-value.xyz');
      expect(JSON.stringify(stored)).toContain('[redacted]');
      expectChain(stored, 1, GENESIS_HASH);
    });

    it('starts at seq 0 and the genesis hash', async () => {
      const { store } = opened();
      expect(await store.auditHead()).toEqual({ seq: 0, hash: GENESIS_HASH });
      expect(await store.appendAudit([])).toEqual([]);
      expect(await store.readAudit({ limit: 10 })).toEqual([]);
    });

    it('links appended batches into one chain that re-hashes from what is read back', async () => {
      const { store } = opened();
      const appended = [
        ...(await store.appendAudit(decisions(1))),
        ...(await store.appendAudit(decisions(250, 1))),
        ...(await store.appendAudit(decisions(7, 251))),
      ];
      const stored = await allAudit(store);
      expect(stored).toEqual(appended);
      expectChain(stored, 1, GENESIS_HASH);
      expect(await store.auditHead()).toEqual({ seq: 258, hash: stored.at(-1)!.hash });
    });

    it('keeps admin events and awkward detail values exactly as hashed', async () => {
      const { store } = opened();
      const awkward: AuditEventInput = {
        kind: 'admin',
        time: T0,
        detail: {
          actor: 'ünïcødé "quoted" \\ back\nslash 🔑',
          actorTokenId: null,
          action: 'service.update',
          target: 'orders',
          before: { z: 1, a: [0.1, -0, 1e21, 2 ** 53 - 1, -1.5e-7], nested: { b: null, a: true } },
          after: { '\u2028': 'line separator', '': 'empty key', 'é': 'e' },
        },
      };
      await store.appendAudit([awkward, ...decisions(2)]);
      const stored = await allAudit(store);
      expectChain(stored, 1, GENESIS_HASH);
      expect(stored[0]!.detail).toEqual(JSON.parse(JSON.stringify(awkward.detail)));
    });

    it('keeps the columns copied from a detail exactly, escapes and markers included, in small and large batches alike', async () => {
      const { store } = opened();
      // Tab, newline, carriage return, backslash and the texts a bulk format reads as null or end of data.
      const awkward = ['tab\there', 'line\nbreak', 'cr\rhere', 'back\\slash', '\\N', '\\.', '\\', 'ünï 🔑'];
      const batch = (from: number, size: number): AuditEventInput[] =>
        decisions(size, from).map((event, i) =>
          event.kind === 'decision' ? { ...event, detail: { ...event.detail, tokenId: `tok ${awkward[i % awkward.length]!}`, service: awkward[(i + 1) % awkward.length]!, reason: awkward[(i + 2) % awkward.length]! } } : event,
        );
      const appended = [...(await store.appendAudit(batch(0, 9))), ...(await store.appendAudit(batch(9, 300)))];
      const stored = await allAudit(store);
      expect(stored).toEqual(appended);
      expectChain(stored, 1, GENESIS_HASH);
      for (const value of awkward) {
        const byToken = await store.readAudit({ tokenId: `tok ${value}`, limit: 1000 });
        expect(byToken.map((event) => event.seq)).toEqual(stored.filter((event) => event.kind === 'decision' && event.detail.tokenId === `tok ${value}`).map((event) => event.seq));
        expect(byToken.length).toBeGreaterThan(0);
        const byService = await store.readAudit({ service: value, limit: 1000 });
        expect(byService.map((event) => event.seq)).toEqual(stored.filter((event) => event.kind === 'decision' && event.detail.service === value).map((event) => event.seq));
      }
    });

    it('adds nothing of a batch the database refuses part-way, small or large, and links the next onto the old head', async () => {
      const { store } = opened();
      const before = await store.appendAudit(decisions(5));
      for (const size of [3, 200]) {
        // An event of a kind the table refuses, past the middle of the batch: every row before it must go too.
        const batch = decisions(size, 5).map((event, i) => (i === size - 2 ? ({ ...event, kind: 'bogus' } as unknown as AuditEventInput) : event));
        // Refused by the table's own CHECK, after the rows before it were sent, not by a check of this process's.
        await expect(store.appendAudit(batch)).rejects.toThrow(/check constraint/i);
        expect(await allAudit(store)).toEqual(before);
        expect(await store.auditHead()).toEqual({ seq: 5, hash: before.at(-1)!.hash });
      }
      const after = await store.appendAudit(decisions(100, 5));
      expect(after[0]!.prevHash).toBe(before.at(-1)!.hash);
      expectChain(await allAudit(store), 1, GENESIS_HASH);
    });

    it('appends one call of more events than a statement carries (full chunks and a remainder) as one chain', async () => {
      const { store } = opened();
      await store.appendAudit(decisions(3));
      await store.appendAudit(decisions(2345, 3));
      const stored = await allAudit(store);
      expect(stored).toHaveLength(2348);
      expectChain(stored, 1, GENESIS_HASH);
      expect(stored.map((event) => event.time)).toEqual(decisions(2348).map((event) => event.time));
    });

    it('orders concurrent appends into one contiguous chain', async () => {
      const { store } = opened();
      await Promise.all(Array.from({ length: 8 }, (_, i) => store.appendAudit(decisions(20, i * 20))));
      const stored = await allAudit(store);
      expect(stored).toHaveLength(160);
      expectChain(stored, 1, GENESIS_HASH);
    });

    it('filters by kind, token, service, decision, reason, time and seq, in seq order', async () => {
      const { store } = opened();
      await store.appendAudit(decisions(30));
      await store.createRole({ name: 'reader', description: '', permissions: [], createdAt: T0, updatedAt: T0 }, ALICE);
      const all = await allAudit(store);
      const check = async (filter: Parameters<typeof store.readAudit>[0], keep: (event: AuditEvent) => boolean) => {
        expect(await store.readAudit(filter)).toEqual(all.filter(keep).slice(0, filter.limit));
      };
      const detail = (event: AuditEvent) => (event.kind === 'decision' ? event.detail : undefined);
      await check({ kind: 'admin', limit: 100 }, (event) => event.kind === 'admin');
      await check({ tokenId: 'tok_00000000000000000001', limit: 100 }, (event) => detail(event)?.tokenId === 'tok_00000000000000000001');
      await check({ tokenId: ALICE.tokenId!, limit: 100 }, (event) => event.kind === 'admin');
      await check({ service: 'billing', decision: 'deny', limit: 100 }, (event) => detail(event)?.service === 'billing' && detail(event)?.decision === 'deny');
      await check({ reason: 'permission_denied', limit: 3 }, (event) => detail(event)?.reason === 'permission_denied');
      await check({ fromTime: T0 + 10, toTime: T0 + 20, limit: 100 }, (event) => event.time >= T0 + 10 && event.time < T0 + 20);
      await check({ afterSeq: 25, limit: 100 }, (event) => event.seq > 25);
      await check({ afterSeq: 5, limit: 4 }, (event) => event.seq > 5);
    });

    it("reads one token's events across many appends in seq order, paged from any seq and windowed by time", async () => {
      const { store } = opened();
      // Appends of 1 to 7 events, tokens interleaved, times not in seq order: a token's events of one append
      // are not contiguous, and a page may start inside them.
      const all = await appendScattered(store, [1, 7, 3, 5, 2, 6, 4, 1, 7, 3], 7, 40);
      const tokenOf = (event: AuditEvent) => (event.kind === 'decision' ? event.detail.tokenId : event.detail.actorTokenId);
      const token = 'tok_00000000000000000001';
      const mine = all.filter((event) => tokenOf(event) === token);
      expect(mine.length).toBeGreaterThan(10);
      for (const afterSeq of [undefined, 0, 1, 2, 3, 9, 10, 11, 20, 38, 39, 100]) {
        for (const limit of [1, 2, 5, 100]) {
          const filter = { tokenId: token, limit, ...(afterSeq === undefined ? {} : { afterSeq }) };
          expect(await store.readAudit(filter)).toEqual(mine.filter((event) => afterSeq === undefined || event.seq > afterSeq).slice(0, limit));
        }
      }
      const windowed = await store.readAudit({ tokenId: token, fromTime: T0 + 10, toTime: T0 + 25, decision: 'allow', limit: 100 });
      expect(windowed).toEqual(mine.filter((event) => event.time >= T0 + 10 && event.time < T0 + 25 && event.kind === 'decision' && event.detail.decision === 'allow'));
      expect(windowed.length).toBeGreaterThan(0);
      expect(await store.readAudit({ tokenId: ALICE.tokenId!, kind: 'admin', limit: 10 })).toEqual(all.filter((event) => event.kind === 'admin'));
      expect(await store.readAudit({ tokenId: 'tok_nobody', limit: 10 })).toEqual([]);
      // Pruning keeps every token's remaining events findable.
      await store.pruneAudit(17);
      expect(await store.readAudit({ tokenId: token, limit: 100 })).toEqual(mine.filter((event) => event.seq >= 17));
    });

    it('reads a time window across many appends in seq order, paged from any seq, and summarizes it', async () => {
      const { store } = opened();
      // Appends of 1 to 9 events, times not in seq order (within an append and across appends) and repeated.
      const all = await appendScattered(store, [3, 1, 9, 2, 5, 8, 1, 4, 6, 2], 11, 30);
      const inWindow = (event: AuditEvent, fromTime: number | undefined, toTime: number | undefined) =>
        (fromTime === undefined || event.time >= fromTime) && (toTime === undefined || event.time < toTime);
      for (const [fromTime, toTime] of [[T0, T0 + 1], [T0 + 5, T0 + 6], [T0 + 7, T0 + 19], [T0 + 29, T0 + 40], [T0 + 12, undefined], [undefined, T0 + 3], [T0 + 30, T0 + 99], [T0 - 9, T0]]) {
        for (const afterSeq of [undefined, 0, 3, 4, 13, 14, 30, 41, 100]) {
          for (const limit of [1, 3, 100]) {
            const filter = { limit, ...(fromTime === undefined ? {} : { fromTime }), ...(toTime === undefined ? {} : { toTime }), ...(afterSeq === undefined ? {} : { afterSeq }) };
            const expected = all.filter((event) => inWindow(event, fromTime, toTime) && (afterSeq === undefined || event.seq > afterSeq));
            expect(await store.readAudit(filter)).toEqual(expected.slice(0, limit));
          }
        }
      }
      const windowed = await store.readAudit({ fromTime: T0 + 7, toTime: T0 + 19, decision: 'allow', service: 'orders', limit: 100 });
      expect(windowed).toEqual(all.filter((e) => inWindow(e, T0 + 7, T0 + 19) && e.kind === 'decision' && e.detail.decision === 'allow' && e.detail.service === 'orders'));
      expect(windowed.length).toBeGreaterThan(0);
      const admin = all.filter((e) => e.kind === 'admin');
      expect(admin).toHaveLength(1);
      expect(await store.readAudit({ kind: 'admin', fromTime: admin[0]!.time, toTime: admin[0]!.time + 1, limit: 10 })).toEqual(admin);
      // The reports' summary of the same windows: allowed decisions, counted per token, service and request.
      const summary = (fromTime: number, toTime: number, tokenId?: string) => {
        const counts = new Map<string, { count: number; lastTime: number }>();
        for (const e of all) {
          if (e.kind !== 'decision' || e.detail.decision !== 'allow' || e.detail.tokenId === null || !inWindow(e, fromTime, toTime)) continue;
          if (tokenId !== undefined && e.detail.tokenId !== tokenId) continue;
          const key = `${e.detail.tokenId} ${e.detail.service} ${e.detail.resource}`;
          const seen = counts.get(key);
          counts.set(key, { count: (seen?.count ?? 0) + 1, lastTime: Math.max(seen?.lastTime ?? 0, e.time) });
        }
        return [...counts].map(([key, value]) => `${key} ${value.count} ${value.lastTime}`).sort();
      };
      const summarized = async (fromTime: number, toTime: number, tokenId?: string) =>
        (await store.summarizeRequests({ fromTime, toTime, ...(tokenId === undefined ? {} : { tokenId }) }))
          .map((r) => `${r.tokenId} ${r.service} ${r.resource} ${r.count} ${r.lastTime}`).sort();
      for (const [fromTime, toTime] of [[T0, T0 + 1], [T0 + 7, T0 + 19], [T0, T0 + 30], [T0 + 30, T0 + 99]]) {
        expect(await summarized(fromTime!, toTime!)).toEqual(summary(fromTime!, toTime!));
        expect(await summarized(fromTime!, toTime!, 'tok_00000000000000000002')).toEqual(summary(fromTime!, toTime!, 'tok_00000000000000000002'));
      }
      expect((await summarized(T0, T0 + 30)).length).toBeGreaterThan(3);
      // Pruning keeps every remaining event in its windows.
      await store.pruneAudit(17);
      expect(await store.readAudit({ fromTime: T0, toTime: T0 + 30, limit: 100 })).toEqual(all.filter((e) => e.seq >= 17 && inWindow(e, T0, T0 + 30)));
    });

    it('refuses an event whose time is not whole milliseconds, appending nothing', async () => {
      const { store } = opened();
      await expectCode(store.appendAudit([...decisions(2), { ...decisions(1)[0]!, time: T0 + 0.5 }]), 'invalid_request');
      expect(await store.auditHead()).toEqual({ seq: 0, hash: GENESIS_HASH });
    });
  });

  describe('audit pruning', () => {
    it('deletes old events from the front and keeps the head', async () => {
      const { store } = opened();
      await store.appendAudit(decisions(10));
      const head = await store.auditHead();
      expect(await store.pruneAudit(6)).toBe(5);
      expect(await store.auditHead()).toEqual(head);
      const left = await allAudit(store);
      expect(left.map((event) => event.seq)).toEqual([6, 7, 8, 9, 10]);
      await store.appendAudit(decisions(2, 10));
      expectChain(await allAudit(store), 6, left[0]!.prevHash);
    });

    it('never prunes the newest event, so the head survives pruning everything', async () => {
      const { store } = opened();
      await store.appendAudit(decisions(4));
      const head = await store.auditHead();
      expect(await store.pruneAudit(1000)).toBe(3);
      expect(await store.auditHead()).toEqual(head);
      const [next] = await store.appendAudit(decisions(1, 4));
      expect(next).toMatchObject({ seq: 5, prevHash: head.hash });
    });
  });

  describe('audit checkpoints', () => {
    it('round-trip, newest first, up to the limit', async () => {
      const { store } = opened();
      const checkpoint = (seq: number): AuditCheckpoint => ({
        seq,
        hash: String(seq).repeat(64).slice(0, 64),
        time: T0 + seq,
        signature: Buffer.from(`signature ${seq}`).toString('base64'),
        keyId: 'key-2026',
      });
      for (const seq of [10, 30, 20]) await store.addCheckpoint(checkpoint(seq));
      expect(await store.listCheckpoints(10)).toEqual([checkpoint(30), checkpoint(20), checkpoint(10)]);
      expect(await store.listCheckpoints(1)).toEqual([checkpoint(30)]);
    });
  });
}
