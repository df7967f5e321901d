import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgWorld } from './testing/pg-world.js';

// Two more real clients through the gateway: psql (simple protocol; Debian's
// psql 15 has no \bind) and pgbench (simple, extended and prepared modes).

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10), (2, 20), (3, 30);
  INSERT INTO public.secrets VALUES (1, 'root password');
`;

let world: PgWorld;
let token: string;

beforeAll(async () => {
  world = await PgWorld.start(SCHEMA);
  token = (await world.issue(['appdb:select:public.orders'])).token;
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

function run(command: string, args: readonly string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: token, PGCONNECT_TIMEOUT: '20' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

const psql = (sql: string) => run('psql', ['-h', '127.0.0.1', '-p', String(world.port), '-U', 'job', '-d', 'appdb', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=0', '-f', '-'], sql);

describe('psql and pgbench through the gateway', () => {
  it('psql reads the granted table and is refused every other table and action', async () => {
    const read = await psql('SELECT sum(total) FROM orders;\n');
    expect(read.stderr).toBe('');
    expect(read.stdout.trim()).toBe('60');
    for (const sql of ['SELECT * FROM secrets;', 'DELETE FROM orders;', 'INSERT INTO orders VALUES (9, 9);', 'UPDATE orders SET total = 1;', 'DROP TABLE orders;', 'TRUNCATE orders;']) {
      const refused = await psql(`${sql}\nSELECT count(*) FROM orders;\n`);
      expect(refused.stderr, sql).toMatch(/ERROR: {2}latchkey: (permission_denied|invalid_request): /);
      // The session goes on after the refusal.
      expect(refused.stdout.trim(), sql).toBe('3');
    }
  }, 60_000);

  it('pgbench runs a select-only script in simple, extended and prepared modes, and a write script is refused', async () => {
    const script = '\\set id random(1, 3)\nSELECT total FROM orders WHERE id = :id;\n';
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-pgbench-'));
    try {
      writeFileSync(join(dir, 'read.sql'), script);
      writeFileSync(join(dir, 'write.sql'), 'UPDATE orders SET total = total + 1 WHERE id = 1;\n');
      for (const mode of ['simple', 'extended', 'prepared']) {
        const bench = await run('pgbench', ['-h', '127.0.0.1', '-p', String(world.port), '-U', 'job', '-n', '-M', mode, '-c', '4', '-t', '25', '-f', join(dir, 'read.sql'), 'appdb']);
        expect(bench.code, `${mode}: ${bench.stderr}`).toBe(0);
        expect(bench.stdout).toContain('number of transactions actually processed: 100/100');
      }
      const write = await run('pgbench', ['-h', '127.0.0.1', '-p', String(world.port), '-U', 'job', '-n', '-c', '1', '-t', '1', '-f', join(dir, 'write.sql'), 'appdb']);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/latchkey: permission_denied: .*public\.orders/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await world.direct(async (c) => (await c.query('SELECT total FROM orders WHERE id = 1')).rows)).toEqual([{ total: 10 }]);
  }, 120_000);
});
