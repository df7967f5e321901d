// What a flood of refusals before authentication costs the audit log: N
// requests with no token and a 15,000-character path, against the real
// gateway, batch recorder and SQLite store, with the folding of
// pre-authentication refusals off (every refusal stored, each field bounded)
// and on (one event per key and batch), in the same run, at two concurrencies:
// folding gains with the number of refusals in flight at once. Reports the audit bytes per refused request (the
// stored events' JSON, and the growth of the SQLite file with its WAL) and
// checks that the events still account for every refusal.
//
//   npm run bench -- audit-flood        LATCHKEY_BENCH_REFUSALS (default 2000)
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { createAuditRecorder } from '../audit/index.js';
import { startHttpGateway } from '../gateway/gateway.js';
import { openSqliteStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { TokenHasher } from '../token/index.js';

const REFUSALS = Math.max(10, Number(process.env.LATCHKEY_BENCH_REFUSALS ?? 2000));
const PATH = `/orders/${'a'.repeat(15_000)}`;

interface FloodResult {
  readonly events: number;
  readonly accounted: number;
  readonly jsonBytesPerRefusal: number;
  readonly fileBytesPerRefusal: number;
}

function fileSize(file: string): number {
  return [file, `${file}-wal`].reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}

async function flood(fold: boolean, concurrency: number): Promise<FloodResult> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-flood-'));
  const file = join(dir, 'latchkey.db');
  const store = await openSqliteStore({ file });
  const logger = pino({ level: 'silent' });
  try {
    await store.createEnvironment({ name: 'prod', maxTtlMs: 86_400_000, createdAt: Date.now() }, SYSTEM_ACTOR);
    const now = Date.now();
    await store.createService(
      { name: 'orders', kind: 'http', bindings: [{ env: 'prod', upstream: 'http://127.0.0.1:9', credential: { from: 'none' } }], tokenHeader: null, maxBodyBytes: 1 << 20, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now },
      SYSTEM_ACTOR,
    );
    const recorder = createAuditRecorder({ store, failMode: 'closed', logger });
    const gateway = await startHttpGateway({
      store,
      hasher: new TokenHasher(TokenHasher.generateKey()),
      env: 'prod',
      recorder,
      metrics: new Registry(),
      logger,
      listen: { host: '127.0.0.1', port: 0 },
      refusalSummary: { fold },
    });
    const sizeBefore = fileSize(file);
    const agent = new Agent({ connections: concurrency });
    const url = `http://127.0.0.1:${gateway.address.port}${PATH}`;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < REFUSALS) {
        sent += 1;
        const reply = await request(url, { dispatcher: agent });
        await reply.body.dump();
        if (reply.statusCode !== 401) throw new Error(`expected 401, got ${reply.statusCode}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await agent.close();
    // Every answer waited for its event (or the event it folded into) to be durable.
    await gateway.close();
    await recorder.close();
    const events = await store.readAudit({ kind: 'decision', limit: REFUSALS + 10 });
    const jsonBytes = events.reduce((sum, event) => sum + Buffer.byteLength(JSON.stringify(event)), 0);
    const accounted = events.reduce((sum, event) => sum + ((event.kind === 'decision' ? event.detail.count : undefined) ?? 1), 0);
    return { events: events.length, accounted, jsonBytesPerRefusal: jsonBytes / sent, fileBytesPerRefusal: (fileSize(file) - sizeBefore) / sent };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runAuditFloodBench(): Promise<void> {
  process.stdout.write(`${REFUSALS} requests, no token, ${PATH.length}-character path, SQLite store\n`);
  const rows: Array<[string, FloodResult]> = [
    ['folding off, 64 connections', await flood(false, 64)],
    ['folding on, 8 connections', await flood(true, 8)],
    ['folding on, 64 connections', await flood(true, 64)],
  ];
  process.stdout.write('mode                                  events  accounted  audit JSON B/refusal  SQLite+WAL B/refusal\n');
  for (const [mode, r] of rows) {
    process.stdout.write(`${mode.padEnd(38)}${String(r.events).padStart(6)}  ${String(r.accounted).padStart(9)}  ${r.jsonBytesPerRefusal.toFixed(1).padStart(20)}  ${r.fileBytesPerRefusal.toFixed(1).padStart(20)}\n`);
    if (r.accounted !== REFUSALS) process.stdout.write(`  !! the events account for ${r.accounted} refusals, not ${REFUSALS}\n`);
  }
  const [off, on] = [rows[0]![1], rows[2]![1]];
  process.stdout.write(`ratio off/on at 64 connections (audit JSON): ${(off.jsonBytesPerRefusal / on.jsonBytesPerRefusal).toFixed(1)}x\n`);
}
