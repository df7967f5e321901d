import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decisionInput } from '../../audit/tamper.contract.js';
import { verifyAudit } from '../../audit/verify.js';
import { generateKeyPairSync } from 'node:crypto';
import type { Store } from '../store.js';
import { openSqliteStore } from './sqlite-store.js';
import { openDatabase } from './sqlite-database.js';
import { WalCheckpointer } from './wal-checkpointer.js';

// Background WAL checkpoints (wal-checkpointer.ts): the database file takes in
// what was committed without any commit doing the copying, the WAL stops
// growing, nothing is lost, and a worker that dies gives checkpoints back to
// the connection.

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-wal-'));
  file = join(dir, 'latchkey.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** Appends `batches` batches of 500 decision events. */
async function append(store: Store, batches: number): Promise<void> {
  for (let b = 0; b < batches; b++) await store.appendAudit(Array.from({ length: 500 }, (_, i) => decisionInput(b * 500 + i)));
}

describe('background WAL checkpoints', () => {
  it('copy committed pages into the database file while commits do none, and keep the WAL bounded', async () => {
    const store = await openSqliteStore({ file, backgroundCheckpoints: true });
    try {
      const before = size(file);
      await append(store, 20);
      // The worker, not a commit, moves the pages into the database file.
      await waitFor(() => size(file) > before + 1_000_000, 'the database file holds the checkpointed pages');
      // Once everything is checkpointed the next commits reuse the WAL from its start: it stops growing.
      await sleep(300);
      await append(store, 20);
      await sleep(300);
      const wal = size(`${file}-wal`);
      await append(store, 20);
      await sleep(300);
      await append(store, 20);
      expect(size(`${file}-wal`)).toBeLessThanOrEqual(wal * 2);
      expect(await verifyAudit(store, { publicKey: generateKeyPairSync('ed25519').publicKey })).toMatchObject({ ok: true, events: 40_000 });
    } finally {
      await store.close();
    }
  });

  it('restart the WAL under writes that never pause, so it stays bounded (a passive checkpoint alone never restarts it)', async () => {
    /** Commits of 1,000 rows of 500 bytes back to back, one event-loop turn apart, until `enough` says stop; the WAL's largest size and the bytes written. */
    const writeUntil = async (restartPages: number, enough: (checkpointer: WalCheckpointer, written: number) => boolean) => {
      const path = join(dir, `restart-${restartPages}.db`);
      const db = openDatabase(path);
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      const checkpointer = await WalCheckpointer.start(db, path, { everyMs: 10, restartPages });
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const commit = db.transaction(() => {
        for (let i = 0; i < 1000; i++) insert.run('x'.repeat(500));
      });
      let written = 0;
      let commits = 0;
      try {
        const deadline = Date.now() + 20_000;
        while (!enough(checkpointer, written) && Date.now() < deadline) {
          // As the store's appendAudit does.
          const gate = checkpointer.gate;
          if (gate !== undefined) await gate;
          commit();
          commits += 1;
          written += 1000 * 500;
          await new Promise(setImmediate);
        }
        expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: commits * 1000 });
        return { wal: size(`${path}-wal`), written, restarts: checkpointer.restarts };
      } finally {
        await checkpointer.stop();
        db.close();
      }
    };
    const bounded = await writeUntil(256, (checkpointer, written) => checkpointer.restarts >= 3 && written >= 60_000_000);
    expect(bounded.restarts).toBeGreaterThanOrEqual(3);
    expect(bounded.wal).toBeLessThan(bounded.written / 2);
    // The same writes with restarts out of reach: the WAL holds all of them.
    const unbounded = await writeUntil(Number.MAX_SAFE_INTEGER, (_, written) => written >= bounded.written);
    expect(unbounded.restarts).toBe(0);
    expect(unbounded.wal).toBeGreaterThan(unbounded.written * 0.9);
  }, 60_000);

  it("restart through the store's audit appends, at the default length, with every event kept", async () => {
    const store = await openSqliteStore({ file, backgroundCheckpoints: true });
    try {
      let events = 0;
      let largest = 0;
      // About 120 MB of events, appended back to back as a saturated recorder does.
      while (events < 200_000) {
        await store.appendAudit(Array.from({ length: 1000 }, (_, i) => decisionInput(events + i)));
        events += 1000;
        largest = Math.max(largest, size(`${file}-wal`));
        await new Promise(setImmediate);
      }
      expect(await store.auditHead()).toMatchObject({ seq: 200_000 });
      // 8,192 pages of 4 KiB, and what one pass lets through: far from the 120 MB written.
      expect(largest).toBeLessThan(60_000_000);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('keep a process whose only work is a held append alive until the append is written', async () => {
    // In a process with nothing else to do (a script, a CLI command) an append waiting at the gate must not let
    // Node exit with the append unwritten (exit code 13, "unsettled top-level await").
    const dist = resolve('dist/store/index.js');
    if (!existsSync(dist)) throw new Error('build first: npm run build');
    const script = `
      import { openSqliteStore } from ${JSON.stringify(pathToFileURL(dist).href)};
      const store = await openSqliteStore({ file: ${JSON.stringify(file)}, backgroundCheckpoints: true });
      await store.migrate();
      const detail = { node: 'n', tokenId: 'tok_1', tokenName: 't', env: 'prod', service: 'orders', action: 'GET', resource: '/v1/orders/${'x'.repeat(300)}', decision: 'allow', reason: 'ok', matched: null, upstreamStatus: 200, latencyMs: 1, client: '127.0.0.1' };
      for (let i = 0; i < 150; i++) {
        await store.appendAudit(Array.from({ length: 1000 }, () => ({ kind: 'decision', time: Date.now(), detail })));
        await new Promise(setImmediate);
      }
      const head = await store.auditHead();
      await store.close();
      process.stdout.write(String(head.seq));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('150000');
  }, 60_000);

  it('turn automatic checkpoints off while the worker runs, and back on when it stops or dies', async () => {
    const db = openDatabase(file);
    try {
      const autoPages = () => db.pragma('wal_autocheckpoint', { simple: true });
      expect(autoPages()).toBe(1000);
      const failures: Error[] = [];
      const checkpointer = await WalCheckpointer.start(db, file, { onFailure: (error) => failures.push(error) });
      expect(checkpointer.running).toBe(true);
      expect(autoPages()).toBe(0);
      await checkpointer.crashForTest();
      await waitFor(() => !checkpointer.running, 'the crash is noticed');
      expect(autoPages()).toBe(1000);
      expect(failures).toHaveLength(1);
      // Stopping a worker that already died returns at once (a store closing after the failure must not hang).
      await checkpointer.stop();

      const again = await WalCheckpointer.start(db, file);
      expect(autoPages()).toBe(0);
      await again.stop();
      expect(again.running).toBe(false);
      expect(autoPages()).toBe(1000);
    } finally {
      db.close();
    }
  });
});
