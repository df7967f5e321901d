import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createAuditRecorder } from '../audit/index.js';
import { startHttpGateway } from '../gateway/index.js';
import { loadSqlParser, postgresConnector, startPostgresGateway } from '../postgres/index.js';
import { aToken } from '../store/contract/fixtures.js';
import { openSqliteStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { PG_ADMIN_URL } from '../test-support/postgres.js';
import { generateToken, TokenHasher } from '../token/index.js';
import { pgbouncerAvailable, startPgBouncer } from './pgbouncer.js';

// `npm run bench -- pg`: pgbench against PostgreSQL directly, through
// PgBouncer (session pooling) and through Latchkey's PostgreSQL gateway, in
// one run: select-only (-S) and the read/write TPC-B-like mix, -M simple and
// -M prepared, -c 16. Latchkey runs in this process with audit on (SQLite),
// every statement parsed and authorized (decisions cached per token scope).
// The database is created here (pgbench -i) and dropped at the end.

// LATCHKEY_BENCH_PG_CASES=select-only:prepared,... runs only those cases;
// LATCHKEY_BENCH_PROFILE=DIR writes a CPU profile of this process (the
// gateway's side) for each Latchkey run, DIR/pg-<script>-<mode>.cpuprofile.

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 8);
const CASES = process.env.LATCHKEY_BENCH_PG_CASES?.split(',');
const PROFILE_DIR = process.env.LATCHKEY_BENCH_PROFILE;
const CLIENTS = Number(process.env.LATCHKEY_BENCH_CLIENTS ?? 16);
const SERVICE = 'benchdb';

interface PgbenchResult {
  readonly tps: number;
  readonly latencyMs: number;
}

function pgbench(args: readonly string[], password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(password !== undefined && { PGPASSWORD: password }) } });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench ${args.join(' ')} failed: ${err.slice(-1500)}`))));
  });
}

async function measure(port: number, database: string, mode: 'simple' | 'prepared', script: 'select-only' | 'tpcb-like', password?: string): Promise<PgbenchResult> {
  const out = await pgbench(['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-n', '-M', mode, '-b', script, '-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), database], password);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1]);
  return { tps, latencyMs };
}

/** `work` under the CPU profiler when LATCHKEY_BENCH_PROFILE is set. */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (PROFILE_DIR === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

export async function runPgBench(): Promise<void> {
  if (!pgbouncerAvailable()) {
    process.stdout.write('pgbouncer is not installed; skipped (apt-get install pgbouncer)\n');
    return;
  }
  const database = `latchkey_bench_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pgbench-'));
  chmodSync(dir, 0o755);
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    await pgbench(['-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-i', '-q', '-s', '1', database]);
    const bouncer = await startPgBouncer(dir, { host: '127.0.0.1', port: 5432, database, user: 'postgres' }, SERVICE);
    cleanups.push(() => bouncer.stop());

    const logger = pino({ level: 'silent' });
    // As `latchkey serve` opens it: WAL checkpoints on a worker thread.
    const store = await openSqliteStore({ file: join(dir, 'latchkey.db'), backgroundCheckpoints: true });
    const hasher = new TokenHasher(TokenHasher.generateKey());
    const now = Date.now();
    await store.createEnvironment({ name: 'prod', maxTtlMs: 86_400_000, createdAt: now }, SYSTEM_ACTOR);
    await store.createService({
      name: SERVICE, kind: 'postgres', bindings: [{ env: 'prod', upstream: `postgres://127.0.0.1:5432/${database}?user=postgres`, credential: { from: 'none' } }],
      tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
    }, SYSTEM_ACTOR);
    const token = generateToken('prod');
    await store.createToken(aToken({ name: 'pgbench', env: 'prod', roles: [], permissions: [`${SERVICE}:read:public.*`, `${SERVICE}:write:public.*`], expiresAt: now + 3_600_000, createdAt: now, updatedAt: now }, { token, hasher }), SYSTEM_ACTOR);
    await loadSqlParser();
    const recorder = createAuditRecorder({ store, failMode: 'closed', logger });
    const gateway = await startHttpGateway({
      store, hasher, env: 'prod', recorder, metrics: new Registry(), logger, listen: { host: '127.0.0.1', port: 0 }, nodeName: 'bench', feed: 'local', connectors: [postgresConnector()],
    });
    const latchkey = await startPostgresGateway({ plane: gateway.plane, listen: { host: '127.0.0.1', port: 0 }, logger });
    cleanups.push(async () => {
      await latchkey.close();
      await gateway.stopAccepting();
      await recorder.close();
      await gateway.close();
      await store.close();
    });

    process.stdout.write(`pgbench -c ${CLIENTS} -j 2 -T ${SECONDS}, scale 1, on loopback; Latchkey in-process with audit on\n`);
    process.stdout.write(`${'script'.padEnd(12)} ${'mode'.padEnd(9)} ${'direct'.padStart(18)} ${'pgbouncer'.padStart(18)} ${'latchkey'.padStart(18)}  latchkey/pgbouncer\n`);
    for (const script of ['select-only', 'tpcb-like'] as const) {
      for (const mode of ['simple', 'prepared'] as const) {
        if (CASES !== undefined && !CASES.includes(`${script}:${mode}`)) continue;
        const direct = await measure(5432, database, mode, script);
        const pooled = await measure(bouncer.port, SERVICE, mode, script);
        const gated = await profiled(`pg-${script}-${mode}`, () => measure(latchkey.address.port, SERVICE, mode, script, token));
        const cell = (r: PgbenchResult) => `${r.tps.toFixed(0)} tps ${r.latencyMs.toFixed(2)} ms`.padStart(18);
        process.stdout.write(`${script.padEnd(12)} ${mode.padEnd(9)} ${cell(direct)} ${cell(pooled)} ${cell(gated)}  ${(gated.tps / pooled.tps).toFixed(2)}\n`);
      }
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
