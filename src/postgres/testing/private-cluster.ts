import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../gateway/testing/redis-server.js';

// A PostgreSQL cluster of the test's own (initdb, pg_ctl, Debian's 15) on a
// free loopback port, for what the shared server cannot show: its pg_hba
// trusts everyone, this one asks each role for its password by the method
// named (password, md5, scram-sha-256). Under root it runs as `postgres`.

const BIN = '/usr/lib/postgresql/15/bin';

export interface PrivateCluster {
  readonly port: number;
  /** psql as the superuser, for setup. */
  sql(statement: string): void;
  stop(): void;
}

function as(root: boolean, command: string, args: readonly string[]): { status: number | null; stderr: string } {
  const result = root ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' }) : spawnSync(command, args, { encoding: 'utf8' });
  return { status: result.status, stderr: `${result.stderr ?? ''}${result.error?.message ?? ''}` };
}

export function privateClusterAvailable(): boolean {
  return spawnSync(join(BIN, 'initdb'), ['--version']).status === 0;
}

export async function startPrivateCluster(hba: readonly string[]): Promise<PrivateCluster> {
  const root = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-pgcluster-'));
  if (root) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const init = as(root, join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr.slice(-1000)}`);
  const hbaFile = join(data, 'pg_hba.conf');
  writeFileSync(hbaFile, `${hba.join('\n')}\nhost all postgres 127.0.0.1/32 trust\nlocal all postgres trust\n`);
  if (root) spawnSync('chown', ['postgres:postgres', hbaFile]);
  const port = await freePort();
  const start = as(root, join(BIN, 'pg_ctl'), ['-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start failed: ${start.stderr.slice(-1000)}`);
  return {
    port,
    sql(statement) {
      const result = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    },
    stop() {
      as(root, join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
