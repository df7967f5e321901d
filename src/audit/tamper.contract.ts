// The tamper suite, run once per store (tamper-sqlite.test.ts, tamper-postgres.test.ts):
// ~200 events with checkpoints go in through the recorder, then an intruder
// with raw database access edits, deletes, inserts, swaps and truncates, and
// verifyAudit must name the first seq and the kind of each change.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Store } from '../store/store.js';
import { createAuditRecorder } from './batch-recorder.js';
import { hashEvent } from './chain.js';
import { loadOrCreateAuditKey, readCheckpointFile, signCheckpoint, auditKeyFromPem, type AuditKey } from './checkpoint.js';
import { createCheckpointer } from './checkpointer.js';
import type { AuditEventInput } from './event.js';
import { pruneBefore } from './retention.js';
import { verifyAudit, type AuditVerification } from './verify.js';
import { generateKeyPairSync } from 'node:crypto';

/** A decision event whose fields all vary with `i`. */
export type DecisionInput = Extract<AuditEventInput, { kind: 'decision' }>;
export type AdminInput = Extract<AuditEventInput, { kind: 'admin' }>;

export function decisionInput(i: number, time = 1_700_000_000_000 + i): DecisionInput {
  return {
    kind: 'decision',
    time,
    detail: {
      node: `node-${i % 3}`,
      tokenId: i % 7 === 0 ? null : `tok_${i % 11}`,
      tokenName: i % 7 === 0 ? null : `ci-${i % 11}`,
      env: 'prod',
      service: i % 2 === 0 ? 'orders' : 'billing',
      action: i % 5 === 0 ? 'POST' : 'GET',
      resource: `/v1/orders/${i}`,
      decision: i % 4 === 0 ? 'deny' : 'allow',
      reason: i % 4 === 0 ? 'permission_denied' : 'ok',
      matched: i % 4 === 0 ? null : 'orders:read:/v1/**',
      upstreamStatus: i % 4 === 0 ? null : 200,
      latencyMs: i % 4 === 0 ? null : 1.5 + i,
      client: `10.0.0.${i % 250}`,
    },
  };
}

export function adminInput(i: number, time = 1_700_000_000_000 + i): AdminInput {
  return {
    kind: 'admin',
    time,
    detail: {
      actor: 'alice',
      actorTokenId: 'tok_admin',
      action: 'role.create',
      target: `role-${i}`,
      before: null,
      after: { name: `role-${i}`, permissions: ['orders:read'] },
    },
  };
}

export interface TamperHarness {
  readonly store: Store;
  /** Raw SQL with `?` placeholders, bypassing the store: what an intruder with database access can do. */
  sql(text: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** Removes the append-only triggers, as such an intruder would. */
  dropGuards(): Promise<void>;
  /** The store's own lookup tables outside the chain (SQLite's spans): put back with the events after each case. */
  readonly lookupTables?: readonly string[];
  close(): Promise<void>;
}

const EVENTS = 200;

export function runTamperCases(name: string, open: () => Promise<TamperHarness>): void {
  describe(`tamper detection on ${name}`, () => {
    let h: TamperHarness;
    let dir: string;
    let key: AuditKey;
    let file: string;

    beforeAll(async () => {
      h = await open();
      dir = await mkdtemp(join(tmpdir(), 'latchkey-tamper-'));
      key = await loadOrCreateAuditKey(dir);
      file = join(dir, 'checkpoints.jsonl');
      const checkpointer = createCheckpointer({ store: h.store, key, everyEvents: 50, everyMs: 0, file });
      const recorder = createAuditRecorder({ store: h.store, failMode: 'closed', batchSize: 25, sinks: [checkpointer] });
      for (let i = 1; i <= EVENTS; i++) {
        recorder.record(i % 10 === 0 ? adminInput(i) : decisionInput(i));
        if (i % 25 === 0) await recorder.flush();
      }
      await recorder.close();
      await h.dropGuards();
      for (const table of ['audit_events', 'audit_checkpoints', ...(h.lookupTables ?? [])]) {
        await h.sql(`CREATE TABLE ${table}_backup AS SELECT * FROM ${table}`);
      }
    });

    afterEach(restore);

    afterAll(async () => {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function restore(): Promise<void> {
      await h.sql('DELETE FROM audit_events');
      await h.sql('INSERT INTO audit_events SELECT * FROM audit_events_backup');
      await h.sql('DELETE FROM audit_checkpoints');
      const columns = 'seq, hash, time, signature, key_id';
      await h.sql(`INSERT INTO audit_checkpoints (${columns}) SELECT ${columns} FROM audit_checkpoints_backup ORDER BY id`);
      for (const table of h.lookupTables ?? []) {
        await h.sql(`DELETE FROM ${table}`);
        await h.sql(`INSERT INTO ${table} SELECT * FROM ${table}_backup`);
      }
    }

    async function verify(withFile = true): Promise<AuditVerification> {
      return verifyAudit(h.store, {
        publicKey: key.publicKey,
        ...(withFile ? { externalCheckpoints: await readCheckpointFile(file) } : {}),
        pageSize: 64,
      });
    }

    async function row(seq: number): Promise<Record<string, unknown>> {
      const [found] = await h.sql('SELECT * FROM audit_events WHERE seq = ?', [seq]);
      if (found === undefined) throw new Error(`no event ${seq}`);
      return found;
    }

    /** Moves every event from `from` on by `by` seqs, in two steps so that no primary key collides midway. */
    async function shift(from: number, by: number): Promise<void> {
      await h.sql('UPDATE audit_events SET seq = -(seq + ?) WHERE seq >= ?', [by, from]);
      await h.sql('UPDATE audit_events SET seq = -seq WHERE seq < 0');
    }

    const rowHash = (r: Record<string, unknown>) =>
      hashEvent(Number(r.seq), String(r.prev_hash), { kind: r.kind, time: Number(r.time), detail: JSON.parse(String(r.detail)) } as AuditEventInput);

    test('an untampered log verifies, against the store and the checkpoint file', async () => {
      expect(await verify()).toEqual({ ok: true, events: EVENTS, checkpoints: 4, firstSeq: 1, lastSeq: EVENTS });
      expect((await readCheckpointFile(file)).map((cp) => cp.seq)).toEqual([50, 100, 150, 200]);
    });

    test('editing any field of any event is reported at that seq as edited', async () => {
      const detailFields = Object.keys(decisionInput(1).detail).concat(Object.keys(adminInput(10).detail));
      // The query columns (token_id, service, decision, reason) are copies of detail fields: editing one must show too.
      const columns = ['time', 'kind', 'prev_hash', 'hash', 'seq', 'token_id', 'service', 'decision', 'reason'];
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: EVENTS }), fc.constantFrom(...detailFields, ...columns), async (seq, field) => {
          const r = await row(seq);
          const detail = JSON.parse(String(r.detail)) as Record<string, unknown>;
          if (columns.includes(field)) {
            const value = {
              time: Number(r.time) + 1, kind: r.kind === 'admin' ? 'decision' : 'admin', prev_hash: 'f'.repeat(64), hash: 'e'.repeat(64), seq: EVENTS + 7,
              token_id: 'tok_forged', service: 'forged', decision: r.decision === 'allow' ? 'deny' : 'allow', reason: 'forged',
            }[field];
            await h.sql(`UPDATE audit_events SET ${field} = ? WHERE seq = ?`, [value, seq]);
          } else {
            const old = detail[field];
            detail[field] = typeof old === 'number' ? old + 1 : typeof old === 'string' ? `${old}x` : old === null ? 'x' : { forged: true };
            await h.sql('UPDATE audit_events SET detail = ? WHERE seq = ?', [JSON.stringify(detail), seq]);
          }
          const result = await verify();
          await restore();
          expect(result, `${field} of event ${seq}`).toMatchObject({ ok: false, seq, problem: 'edited' });
        }),
        {
          numRuns: 60,
          // The edges always: the first event (no predecessor), a checkpointed one, the last.
          examples: [[1, 'seq'], [1, 'prev_hash'], [1, 'hash'], [50, 'seq'], [50, 'time'], [EVENTS, 'seq'], [EVENTS, 'hash'], [EVENTS, 'kind'],
            [1, 'token_id'], [2, 'service'], [3, 'decision'], [4, 'reason'], [10, 'token_id'], [20, 'service']],
        },
      );
    });

    test('an edit hidden by recomputing the edited event hash is still reported at that seq', async () => {
      for (const seq of [1, 37, 100, EVENTS]) {
        const r = await row(seq);
        const detail = { ...JSON.parse(String(r.detail)), client: '203.0.113.9' };
        await h.sql('UPDATE audit_events SET detail = ? WHERE seq = ?', [JSON.stringify(detail), seq]);
        await h.sql('UPDATE audit_events SET hash = ? WHERE seq = ?', [rowHash(await row(seq)), seq]);
        expect(await verify(), `event ${seq}`).toMatchObject({ ok: false, seq, problem: 'edited' });
        await restore();
      }
    });

    test('deleting one event is reported at its seq, with or without renumbering the rest', async () => {
      for (const seq of [1, 2, 50, 51, 123]) {
        await h.sql('DELETE FROM audit_events WHERE seq = ?', [seq]);
        expect(await verify(), `delete ${seq}`).toMatchObject({ ok: false, seq, problem: 'deleted' });
        await shift(seq + 1, -1);
        expect(await verify(), `delete ${seq} and renumber`).toMatchObject({ ok: false, seq, problem: 'deleted' });
        await restore();
      }
    });

    test('inserting one event is reported at its seq, with a forged or a garbage hash', async () => {
      for (const [seq, forge] of [[1, true], [77, true], [100, true], [140, false]] as const) {
        const before = seq === 1 ? undefined : await row(seq - 1);
        await shift(seq, 1);
        const prevHash = before === undefined ? '0'.repeat(64) : String(before.hash);
        const input = decisionInput(9999);
        const hash = forge ? hashEvent(seq, prevHash, input) : 'a'.repeat(64);
        await h.sql(
          'INSERT INTO audit_events (seq, time, kind, token_id, service, decision, reason, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [seq, input.time, input.kind, input.detail.tokenId, input.detail.service, input.detail.decision, input.detail.reason, JSON.stringify(input.detail), prevHash, hash],
        );
        expect(await verify(), `insert at ${seq}`).toMatchObject({ ok: false, seq, problem: 'inserted' });
        await restore();
      }
    });

    test('swapping two events is reported at the earlier seq as reordered', async () => {
      for (const [a, b] of [[1, 2], [60, 61], [30, 170], [199, 200]] as const) {
        await h.sql('UPDATE audit_events SET seq = -1 WHERE seq = ?', [a]);
        await h.sql('UPDATE audit_events SET seq = ? WHERE seq = ?', [a, b]);
        await h.sql('UPDATE audit_events SET seq = ? WHERE seq = -1', [b]);
        expect(await verify(), `swap ${a} and ${b}`).toMatchObject({ ok: false, seq: a, problem: 'reordered' });
        await restore();
      }
    });

    test('truncating the tail is caught by the checkpoint file even when the store checkpoints go too', async () => {
      await h.sql('DELETE FROM audit_events WHERE seq >= ?', [160]);
      expect(await verify()).toMatchObject({ ok: false, seq: 160, problem: 'truncated' });
      await h.sql('DELETE FROM audit_checkpoints WHERE seq >= ?', [160]);
      expect(await verify()).toMatchObject({ ok: false, seq: 160, problem: 'truncated' });
      // Without the outside copy the shortened log is consistent: that is why the file exists.
      expect(await verify(false)).toMatchObject({ ok: true, lastSeq: 159 });
    });

    test('a truncated tail rebuilt with new events is caught at the first checkpoint it contradicts', async () => {
      await h.sql('DELETE FROM audit_events WHERE seq >= ?', [120]);
      await h.sql('DELETE FROM audit_checkpoints WHERE seq >= ?', [120]);
      await h.store.appendAudit(Array.from({ length: 100 }, (_, i) => decisionInput(5000 + i)));
      expect(await verify()).toMatchObject({ ok: false, seq: 150, problem: 'edited' });
    });

    test('a checkpoint not signed by the audit key is reported at its seq', async () => {
      const stranger = auditKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      const r = await row(120);
      await h.store.addCheckpoint(signCheckpoint({ seq: 120, hash: String(r.hash) }, stranger));
      expect(await verify()).toMatchObject({ ok: false, seq: 120, problem: 'bad_signature' });
      await restore();
      const [genuine] = await readCheckpointFile(file);
      const forged = { ...genuine!, hash: 'b'.repeat(64) };
      expect(await verifyAudit(h.store, { publicKey: key.publicKey, externalCheckpoints: [forged] })).toMatchObject({
        ok: false,
        seq: 50,
        problem: 'bad_signature',
      });
    });

    test('after pruning at a checkpoint the rest still verifies, and a deletion at its start is still caught', async () => {
      const [cp] = (await h.store.listCheckpoints(10)).filter((c) => c.seq === 100);
      expect(await pruneBefore(h.store, cp!, { publicKey: key.publicKey })).toBe(100);
      expect(await verify()).toMatchObject({ ok: true, firstSeq: 101, events: 100 });
      await h.sql('DELETE FROM audit_events WHERE seq = ?', [101]);
      expect(await verify()).toMatchObject({ ok: false, seq: 101, problem: 'deleted' });
    });
  });
}
