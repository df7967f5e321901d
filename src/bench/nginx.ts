import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

// nginx `proxy_pass` as a second baseline for the gateway benchmark (Debian's
// package), on loopback, one worker (a fair match for one Node process), no
// access log, keep-alive to the upstream. Its CPU time is read from /proc.

const NGINX = '/usr/sbin/nginx';

export interface NginxProxy {
  readonly port: number;
  /** CPU time of the master and its worker, in microseconds. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

export function nginxAvailable(): boolean {
  return existsSync(NGINX) && spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function ticksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The start of every configuration the tests and benchmarks give nginx: one
 * worker, in the foreground, everything it writes in `dir`, no access log,
 * and an open `http {` block for the caller's upstreams and server.
 */
export function nginxPreamble(dir: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
`;
}

export async function startNginx(dir: string, upstreamPort: number): Promise<NginxProxy> {
  return startNginxWith(dir, (port) => `
${nginxPreamble(dir)}  upstream bench { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`);
}

/** nginx with the configuration `render` writes for the port it will listen on (also the forward-auth tests' and bench's). */
export async function startNginxWith(dir: string, render: (port: number) => string): Promise<NginxProxy> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, render(port));
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 5000;
  for (;;) {
    const listening = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(true));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
    });
    if (listening) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const tick = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
  return {
    port,
    cpuMicros: () => [child.pid!, ...childrenOf(child.pid!)].reduce((sum, pid) => sum + ticksOf(pid), 0) * tick,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
      }),
  };
}
