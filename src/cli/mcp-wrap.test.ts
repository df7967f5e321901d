// `latchkey mcp-wrap` as a person runs it (the built bin): it prints where it
// listens, and that address speaks Streamable HTTP for the wrapped stdio server.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { BIN } from './testing/cli-process.js';

const SERVER = fileURLToPath(new URL('../mcp/testing/stdio-server.mjs', import.meta.url));

describe('latchkey mcp-wrap', () => {
  it('prints its loopback URL and serves the stdio server there', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-wrap', '--json', '--service', 'local', '--listen', '127.0.0.1:0', '--', process.execPath, SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const line = out.split('\n')[0];
          if (out.includes('\n')) resolve((JSON.parse(line!) as { url: string }).url);
        });
        child.once('exit', (code) => reject(new Error(`mcp-wrap exited with ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const reply = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } }),
      });
      expect(reply.headers['mcp-session-id']).toBeDefined();
      expect(await reply.body.text()).toContain('latchkey-stdio-test');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('refuses a non-loopback listen address', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-wrap', '--service', 'local', '--listen', '0.0.0.0:0', '--', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toContain('loopback only');
  });
});
