import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase } from '../test-support/postgres.js';
import { initDataDir, LATCHKEY_BIN, runCli, startServeProcess } from '../test-support/serve-process.js';
import { spawnGatewayProcess } from '../gateway/testing/node-process.js';
import { BENCH_PATH, PERMISSIONS, SELF as GATEWAY_BENCH } from './gateway.js';
import { median, runWrk, wrkAvailable } from './wrk.js';

// `npm run bench -- processes`: `latchkey gateway` with one process against
// `latchkey gateway --processes 2`, the built command line on one PostgreSQL
// store, same upstream, same token (20 permissions), audit on and durable
// before each response. Rounds alternate between the two, wrk -c32 and -c50,
// median and spread. On this 2-core machine wrk and the upstream share the
// cores with the gateway, so this shows how far a second process helps when
// nothing is left idle, not how it scales on a machine with cores to spare.

const ROUNDS = Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 4);
const SECRET_ENV = 'PROD_BENCH_SECRET';

interface Group {
  readonly label: string;
  readonly url: string;
  readonly child: ChildProcess;
}

async function startGroup(dataDir: string, store: string, processes: number): Promise<Group> {
  const args = [LATCHKEY_BIN, 'gateway', '--env', 'prod', '--data', dataDir, '--store', store, '--gateway', '127.0.0.1:0', '--ops', '127.0.0.1:0', '--processes', String(processes)];
  const child = spawn(process.execPath, args, { env: { ...process.env, [SECRET_ENV]: 'bench-secret', LATCHKEY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`latchkey gateway --processes ${processes} did not start: ${out}`)), 60_000);
    const poll = setInterval(() => {
      const match = /HTTP gateway\s+(http:\/\/\S+)/.exec(out);
      if (match === null) return;
      clearInterval(poll);
      clearTimeout(timer);
      done(match[1]!);
    }, 25);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      fail(new Error(`latchkey gateway exited with ${code}: ${out}`));
    });
  });
  return { label: processes === 1 ? 'gateway, 1 process' : `gateway, ${processes} processes`, url, child };
}

async function stopGroup(group: Group): Promise<void> {
  if (group.child.exitCode !== null) return;
  const exited = new Promise((done) => group.child.once('exit', done));
  group.child.kill('SIGTERM');
  await exited;
}

export async function runProcessesBench(): Promise<void> {
  if (!wrkAvailable()) {
    process.stdout.write('skipped: wrk is not installed (apt-get install wrk)\n');
    return;
  }
  if (!existsSync(resolve('dist/cli/main.js'))) {
    process.stdout.write('skipped: the command line is not built (npm run build)\n');
    return;
  }
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'lk-bench-processes-'));
  const upstream = await spawnGatewayProcess(GATEWAY_BENCH, null, { args: ['--upstream'] });
  const groups: Group[] = [];
  try {
    const adminToken = initDataDir(dataDir, db.url);
    // The admin process only sets up: the service and the token are in the store, which the gateway nodes read.
    const serve = await startServeProcess({ dataDir, store: db.url, env: { [SECRET_ENV]: 'bench-secret' } });
    let token: string;
    try {
      const cli = (args: string[]) => {
        const result = runCli([...args, '--json'], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken });
        if (result.code !== 0) throw new Error(`latchkey ${args.join(' ')}: ${result.stderr}`);
        return result.stdout;
      };
      cli(['service', 'add', 'bench', '--kind', 'http', '--env', 'prod', '--upstream', `http://127.0.0.1:${upstream.port}`, '--credential-env', SECRET_ENV]);
      token = (JSON.parse(cli(['token', 'create', '--name', 'bench', '--env', 'prod', '--ttl', '1d', ...PERMISSIONS.flatMap((p) => ['--allow', p])])) as { token: string }).token;
    } finally {
      await serve.stop();
    }
    groups.push(await startGroup(dataDir, db.url, 1), await startGroup(dataDir, db.url, 2));
    const header = [`Authorization: Bearer ${token}`];
    process.stdout.write(
      `latchkey gateway (PostgreSQL store, audit on, durable before response) with 1 and 2 processes, GET /bench${BENCH_PATH}, ` +
      `${ROUNDS} alternating rounds of ${SECONDS} s after a warm-up, median (spread min–max)\n`,
    );
    for (const connections of [32, 50]) {
      for (const group of groups) runWrk(`${group.url}/bench${BENCH_PATH}`, 2, connections, header);
      const results = groups.map(() => [] as Array<{ rps: number; p50Ms: number; non2xx: number }>);
      for (let round = 0; round < ROUNDS; round++) {
        groups.forEach((group, i) => results[i]!.push(runWrk(`${group.url}/bench${BENCH_PATH}`, SECONDS, connections, header)));
      }
      process.stdout.write(`wrk -t2 -c${connections}:\n`);
      groups.forEach((group, i) => {
        const rps = results[i]!.map((r) => r.rps);
        const failed = results[i]!.reduce((sum, r) => sum + r.non2xx, 0);
        process.stdout.write(
          `  ${group.label.padEnd(24)} ${Math.round(median(rps)).toLocaleString('en-US').padStart(7)} req/s (${Math.round(Math.min(...rps)).toLocaleString('en-US')}–${Math.round(Math.max(...rps)).toLocaleString('en-US')}), ` +
          `p50 ${median(results[i]!.map((r) => r.p50Ms)).toFixed(2)} ms${failed > 0 ? `, ${failed} non-2xx answers` : ''}\n`,
        );
      });
      const ratios = results[1]!.map((r, round) => r.rps / results[0]![round]!.rps);
      process.stdout.write(`  2 processes ÷ 1: ${(median(results[1]!.map((r) => r.rps)) / median(results[0]!.map((r) => r.rps))).toFixed(3)} (per round ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})\n`);
    }
  } finally {
    await Promise.all(groups.map(stopGroup));
    await upstream.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
