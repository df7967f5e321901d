import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { freePort } from '../../gateway/testing/redis-server.js';

// Real Caddy (Debian's package) running examples/Caddyfile itself, with its
// addresses swapped for loopback ports: no admin endpoint, no automatic HTTPS,
// its storage in a temporary directory.

const CADDY = 'caddy';
const EXAMPLE = resolve('examples/Caddyfile');

export interface CaddyProxy {
  readonly port: number;
  stop(): Promise<void>;
}

export function caddyAvailable(): boolean {
  return spawnSync(CADDY, ['version'], { encoding: 'utf8' }).status === 0;
}

/** examples/Caddyfile for loopback: the site, the endpoint and the upstream addresses replaced, nothing else. */
export function caddyAuthConfig(listen: number, ports: { auth: number; upstream: number }): string {
  const example = readFileSync(EXAMPLE, 'utf8');
  const rendered = example
    .replace(/^api\.example\.com \{$/m, `http://127.0.0.1:${listen} {\n\tbind 127.0.0.1`)
    .replace('forward_auth 127.0.0.1:7703 {', `forward_auth 127.0.0.1:${ports.auth} {`)
    .replace('reverse_proxy 127.0.0.1:8080', `reverse_proxy 127.0.0.1:${ports.upstream}`);
  // Each replacement must have hit: a changed example is a failed start, not a silently different test.
  for (const expected of [`http://127.0.0.1:${listen} {`, `forward_auth 127.0.0.1:${ports.auth} {`, `reverse_proxy 127.0.0.1:${ports.upstream}`]) {
    if (!rendered.includes(expected)) throw new Error(`examples/Caddyfile no longer has the addresses the Caddy test replaces (${expected})`);
  }
  return `{\n\tadmin off\n\tauto_https off\n}\n${rendered}`;
}

export async function startCaddy(dir: string, ports: { auth: number; upstream: number }): Promise<CaddyProxy> {
  const port = await freePort();
  const config = join(dir, 'Caddyfile');
  writeFileSync(config, caddyAuthConfig(port, ports));
  for (const sub of ['data', 'config']) mkdirSync(join(dir, sub), { recursive: true });
  const child: ChildProcess = spawn(CADDY, ['run', '--config', config, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`caddy did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
