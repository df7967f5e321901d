// GitHub's signing keys fetched from a real HTTP server on loopback (standing
// in for api.github.com): verified against, refreshed when a report names a
// rotated-in key, cached for a restart while the URL is down, and never
// "no keys, so anything goes".
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { GithubKeySource } from './key-source.js';

const logger = createLogger('silent', new Writable({ write(_c, _e, done) { done(); } }));

interface Pair { readonly id: string; readonly privateKey: KeyObject; readonly pem: string }

function pair(id: string): Pair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id, privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function signed(body: string, key: Pair): [Buffer, string, string] {
  return [Buffer.from(body), key.id, sign('sha256', Buffer.from(body), { key: key.privateKey, dsaEncoding: 'der' }).toString('base64')];
}

let dir: string;
let server: Server;
let published: Pair[];
let fetches: number;
let url: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-gh-keys-'));
  published = [];
  fetches = 0;
  server = createServer((_request, response) => {
    fetches++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ public_keys: published.map((key) => ({ key_identifier: key.id, key: key.pem, is_current: true })) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const options = () => ({ url, cacheFile: join(dir, 'github-keys.json'), refreshMs: 3_600_000, logger, minRefreshGapMs: 0 });

describe('GitHub keys from a URL', () => {
  it('verifies with the fetched keys, and picks up a rotated key when a report names it', async () => {
    const first = pair('k1');
    published = [first];
    const source = await GithubKeySource.start(options());
    try {
      expect(source.verify(...signed('[]', first))).toBe(true);
      expect(source.verify(Buffer.from('[x]'), 'k1', signed('[]', first)[2])).toBe(false);
      const rotated = pair('k2');
      published = [first, rotated];
      // Unknown now: refused, and a refresh is started for GitHub's retry.
      expect(source.verify(...signed('[]', rotated))).toBe(false);
      await source.refresh();
      expect(source.verify(...signed('[]', rotated))).toBe(true);
      expect(fetches).toBeGreaterThanOrEqual(2);
      expect(statSync(join(dir, 'github-keys.json')).mode & 0o777).toBe(0o600);
    } finally {
      source.close();
    }
  });

  it('after a restart with the URL down, uses the cached copy; with neither, refuses every report', async () => {
    const key = pair('k1');
    published = [key];
    (await GithubKeySource.start(options())).close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server = createServer();
    const cached = await GithubKeySource.start(options());
    expect(cached.verify(...signed('[]', key))).toBe(true);
    cached.close();
    rmSync(join(dir, 'github-keys.json'));
    const none = await GithubKeySource.start(options());
    expect(none.size).toBe(0);
    expect(none.verify(...signed('[]', key))).toBe(false);
    none.close();
  });

  it('keeps the keys in force when a refresh answers garbage', async () => {
    const key = pair('k1');
    published = [key];
    const source = await GithubKeySource.start(options());
    try {
      published = [{ ...key, pem: 'not a key' }];
      await source.refresh();
      expect(source.verify(...signed('[]', key))).toBe(true);
    } finally {
      source.close();
    }
  });
});
