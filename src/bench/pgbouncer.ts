import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../gateway/testing/redis-server.js';

// Debian's PgBouncer for the baseline: session pooling on loopback, an ini of
// its own in a temporary directory, trust to the upstream as the bench's
// direct runs use. PgBouncer refuses to run as root, so under root it is
// started with `-u postgres` and the directory handed to that user.

export interface PgBouncer {
  readonly port: number;
  stop(): Promise<void>;
}

export function pgbouncerAvailable(): boolean {
  return spawnSync('pgbouncer', ['--version'], { encoding: 'utf8' }).status === 0;
}

export async function startPgBouncer(dir: string, upstream: { host: string; port: number; database: string; user: string }, alias: string): Promise<PgBouncer> {
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'userlist.txt'), `"${upstream.user}" ""\n"bench" ""\n`);
  writeFileSync(ini, [
    '[databases]',
    `${alias} = host=${upstream.host} port=${upstream.port} dbname=${upstream.database} user=${upstream.user}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = session',
    'max_client_conn = 200',
    'default_pool_size = 40',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n'));
  const root = userInfo().uid === 0;
  if (root) {
    const postgres = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const uid = Number(postgres.stdout.trim());
    for (const file of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, file), uid, Number(gid.stdout.trim()));
  }
  const child: ChildProcess = spawn('pgbouncer', [...(root ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    stop: () => new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    }),
  };
}

async function accepts(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
