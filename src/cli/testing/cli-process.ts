// The built command line as a person runs it: the bin in a child process, and
// a real `serve` on loopback ports in a temp data directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve('bin/latchkey.js');

export function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export async function startServe(dataDir: string): Promise<{ child: ChildProcess; adminUrl: string; gatewayUrl: string; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, '--admin', '127.0.0.1:0', '--gateway', '127.0.0.1:0', '--auth', '127.0.0.1:0', '--pg', '127.0.0.1:0'], {
    env: { ...process.env, LATCHKEY_LOG_LEVEL: 'warn', DEV_ORDERS_API_KEY: 'the-real-secret' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk) => { out += chunk; });
  child.stderr!.on('data', (chunk) => { out += chunk; });
  const adminUrl = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
    const poll = setInterval(() => {
      const match = /admin API and console\s+(http:\/\/\S+)\n\s+HTTP gateway\s+(http:\/\/\S+)/.exec(out);
      if (match !== null) { clearInterval(poll); clearTimeout(timer); resolvePromise(`${match[1]!} ${match[2]!}`); }
    }, 50);
    child.once('exit', () => { clearInterval(poll); clearTimeout(timer); reject(new Error(`serve exited: ${out}`)); });
  });
  const [admin, gateway] = adminUrl.split(' ') as [string, string];
  return { child, adminUrl: admin, gatewayUrl: gateway, output: () => out };
}

