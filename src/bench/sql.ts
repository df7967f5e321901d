// Benchmark of the SQL analysis behind the PostgreSQL gateway, per statement on
// one core: PostgreSQL's parser alone (libpg-query parseSync, the baseline any
// parsing gateway pays), its fingerprint and normalize calls, and sqlScope's
// authorize cold (parse, walk, fingerprint, decide), warm on a statement's
// shape (literals varying: the literal-masked key and a lookup for a single
// DML statement, else one normalize and a lookup) and warm on the exact
// text (a prepared statement's: one lookup).
// Run: `npm run bench -- sql`.

import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { fingerprintSync, normalizeSync, parseSync } from 'libpg-query';
import { compileGrant, parsePermissions, type ServiceCatalog } from '../policy/index.js';
import { loadSqlParser, sqlScope } from '../postgres/sql/index.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'appdb' ? 'postgres' : undefined) };
const GRANT = ['appdb:read:public.*', 'appdb:write:public.pgbench_*', '!appdb:*:public.secrets'];

/** pgbench's statements (simple protocol: literals inline) and a reporting query; `$n` marks where literals vary. */
const STATEMENTS: readonly (readonly [string, (n: number) => string])[] = [
  ['pgbench select', (n) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${n};`],
  ['pgbench update', (n) => `UPDATE pgbench_accounts SET abalance = abalance + ${n % 5000} WHERE aid = ${n};`],
  ['pgbench insert', (n) => `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${n % 10}, 1, ${n}, ${n % 5000}, CURRENT_TIMESTAMP);`],
  ['report (join, CTE, aggregate)', (n) => `WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '${n % 30} days') SELECT c.name, count(*), sum(r.total) FROM recent r JOIN customers c ON c.id = r.customer_id WHERE r.status = 'open' AND r.id > ${n} GROUP BY c.name ORDER BY 3 DESC LIMIT 50`],
];

function microsPerCall(run: () => unknown, calls: number, rounds = 7): number {
  let sink = 0;
  for (let index = 0; index < calls / 4; index++) sink += run() === undefined ? 0 : 1;
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < calls; index++) sink += run() === undefined ? 0 : 1;
    samples.push(Number(process.hrtime.bigint() - started) / 1e3 / calls);
  }
  if (sink < 0) console.log('unreachable');
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

const cell = (micros: number): string => `${micros.toFixed(2).padStart(7)} µs`;

export async function runSqlBench(): Promise<void> {
  await loadSqlParser();
  const grant = compileGrant(parsePermissions(GRANT, catalog, 'grant'), catalog);
  const scope = () => sqlScope({ service: 'appdb', grant, functions: [] });
  console.log(`sql bench: libpg-query (WebAssembly) on one core, node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}; median µs per statement`);
  console.log(`  ${'statement'.padEnd(30)} ${'parse'.padStart(10)} ${'fingerprint'.padStart(11)} ${'normalize'.padStart(10)} ${'cold'.padStart(10)} ${'warm shape'.padStart(10)} ${'warm exact'.padStart(10)}  cold ÷ parse, shape ÷ parse`);
  for (const [name, text] of STATEMENTS) {
    const fixed = text(7);
    const parse = microsPerCall(() => parseSync(fixed), 2_000);
    const fingerprint = microsPerCall(() => fingerprintSync(fixed), 2_000);
    const normalize = microsPerCall(() => normalizeSync(fixed), 2_000);
    const cold = microsPerCall(() => scope().authorize(fixed), 1_000);
    const shaped = scope();
    // A literal never seen before on every call, so the exact-text map never answers.
    let literal = 1_000_000;
    const warmShape = microsPerCall(() => shaped.authorize(text((literal += 1))), 2_000);
    const exact = scope();
    exact.authorize(fixed);
    const warmExact = microsPerCall(() => exact.authorize(fixed), 200_000);
    if (!shaped.authorize(fixed).allowed) throw new Error(`the bench grant refuses ${name}`);
    console.log(`  ${name.padEnd(30)} ${cell(parse)} ${cell(fingerprint).padStart(11)} ${cell(normalize)} ${cell(cold)} ${cell(warmShape)} ${cell(warmExact)}  ${(cold / parse).toFixed(2)}, ${(warmShape / parse).toFixed(2)}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSqlBench();
}
