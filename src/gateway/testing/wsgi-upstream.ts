import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Starts wsgi-echo.py (Python's wsgiref) on 127.0.0.1 and an ephemeral port.

export interface WsgiUpstream {
  readonly url: string;
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./wsgi-echo.py', import.meta.url));

/** Why a WSGI upstream cannot run here, or null when python3 with wsgiref is available. */
export function wsgiUnavailable(): string | null {
  const probe = spawnSync('python3', ['-c', 'import wsgiref'], { stdio: 'ignore' });
  return probe.error !== undefined || probe.status !== 0 ? 'python3 with wsgiref is not installed' : null;
}

export function startWsgiUpstream(timeoutMs = 15_000): Promise<WsgiUpstream> {
  const child = spawn('python3', [SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      void close();
      reject(new Error('the WSGI upstream did not print its port in time'));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^(\d+)\n/.exec(output);
      if (line === null) return;
      clearTimeout(timer);
      resolve({ url: `http://127.0.0.1:${line[1]}`, close });
    });
  });
}
