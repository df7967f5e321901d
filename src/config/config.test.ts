import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseListenAddress } from './config.js';
import { formatDuration, parseDuration, parseRate } from './durations.js';
import { loadTokenHasher } from './keys.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'latchkey-config-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration', () => {
  it('has working defaults with no file and no variables', () => {
    const config = loadConfig({ dataDir: dir }, {});
    expect(config.store).toBe(join(dir, 'latchkey.db'));
    expect(config.listen.admin).toEqual({ host: '127.0.0.1', port: 7700 });
    expect(config.listen.gateway).toEqual({ host: '127.0.0.1', port: 7701 });
    expect(config.listen.postgres).toEqual({ host: '127.0.0.1', port: 7702 });
    expect(config.audit.failMode).toBe('closed');
    expect(config.gateway.maxStalenessMs).toBe(30_000);
  });

  it('takes flags over variables over the file', () => {
    const file = join(dir, 'latchkey.yaml');
    writeFileSync(file, 'listen:\n  admin: 127.0.0.1:8800\n  gateway: 127.0.0.1:8801\nredis: redis://127.0.0.1:6379\n');
    const config = loadConfig({ configFile: file, gateway: '127.0.0.1:9901' }, { LATCHKEY_ADMIN_ADDR: '127.0.0.1:9900' });
    expect(config.listen.admin.port).toBe(9900);
    expect(config.listen.gateway.port).toBe(9901);
    expect(config.redis).toBe('redis://127.0.0.1:6379');
  });

  it('names the bad key of a config file', () => {
    const file = join(dir, 'latchkey.json');
    writeFileSync(file, JSON.stringify({ audit: { failMode: 'sometimes' } }));
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/audit\.failMode/);
    writeFileSync(file, JSON.stringify({ gateway: { maxStaleness: 5 } }));
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/maxStaleness/);
    writeFileSync(file, '{ not json');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/cannot read/);
    expect(() => loadConfig({ configFile: join(dir, 'missing.yaml') }, {})).toThrow(/does not exist/);
  });

  it('points at the line of a bad YAML key and names the keys allowed there', () => {
    const file = join(dir, 'latchkey.yaml');
    writeFileSync(file, 'store: /tmp/x.db\nadmin: 127.0.0.1:7800\n');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(
      `${file}:2: (top level): Unrecognized key: "admin"; did you mean listen.admin?; the keys here are dataDir, store, redis, logLevel, listen, postgres, forwardAuth, gateway, audit, credentials, leaks, alerts, lifecycle (see "Configuration" in the README)`);
    writeFileSync(file, 'listen:\n  admin: 127.0.0.1:7800\n  admn: 127.0.0.1:7801\n');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(`${file}:3: listen: Unrecognized key: "admn"; the keys here are admin, gateway, postgres, auth`);
    writeFileSync(file, 'gateway:\n  nodeName: a\n  maxInFlightPerToken: -3\n');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(`${file}:3: gateway.maxInFlightPerToken: Too small`);
  });

  it('reads the PostgreSQL listener\'s TLS files from flags, variables or the file, both or neither', () => {
    expect(loadConfig({ dataDir: dir }, {}).postgres).toEqual({ tls: undefined, maxMessageBytes: 1024 * 1024 });
    const file = join(dir, 'latchkey.yaml');
    writeFileSync(file, 'postgres:\n  tls:\n    cert: /etc/lk/cert.pem\n    key: /etc/lk/key.pem\n    required: true\n  maxMessageBytes: 65536\n');
    expect(loadConfig({ configFile: file }, {}).postgres).toEqual({ tls: { cert: '/etc/lk/cert.pem', key: '/etc/lk/key.pem', required: true }, maxMessageBytes: 65536 });
    const flagged = loadConfig({ configFile: file, pgTlsCert: '/flag/cert.pem' }, { LATCHKEY_PG_TLS_KEY: '/env/key.pem' });
    expect(flagged.postgres.tls).toEqual({ cert: '/flag/cert.pem', key: '/env/key.pem', required: true });
    expect(() => loadConfig({ dataDir: dir, pgTlsCert: '/only/cert.pem' }, {})).toThrow('postgres.tls: the certificate and its key go together: key (--pg-tls-key, LATCHKEY_PG_TLS_KEY) is missing');
    expect(() => loadConfig({ dataDir: dir }, { LATCHKEY_PG_TLS_KEY: '/only/key.pem' })).toThrow(/cert \(--pg-tls-cert, LATCHKEY_PG_TLS_CERT\) is missing/);
    writeFileSync(file, 'postgres:\n  tls:\n    cert: /etc/lk/cert.pem\n');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/postgres\.tls\.key/);
    writeFileSync(file, 'postgres:\n  maxMessageBytes: 10\n');
    expect(() => loadConfig({ configFile: file }, {})).toThrow(/postgres\.maxMessageBytes/);
  });

  it('parses listen addresses and refuses nonsense', () => {
    expect(parseListenAddress('0.0.0.0:80', 'x')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListenAddress('[::1]:7700', 'x')).toEqual({ host: '::1', port: 7700 });
    expect(parseListenAddress('7700', 'x')).toEqual({ host: '127.0.0.1', port: 7700 });
    expect(() => parseListenAddress('host:99999', 'gateway address')).toThrow(/gateway address/);
    expect(() => parseListenAddress('a b:1', 'x')).toThrow();
  });
});

describe('durations and rates', () => {
  it('parses what operators type', () => {
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    for (const bad of ['', '0h', '1.5h', '-1d', '10', 'h', '1y', ' 1h']) expect(parseDuration(bad)).toBeUndefined();
    expect(formatDuration(90 * 86_400_000)).toBe('90d');
    expect(parseRate('100/min')).toEqual({ count: 100, periodMs: 60_000 });
    expect(parseRate('10/s')).toEqual({ count: 10, periodMs: 1_000 });
    for (const bad of ['100', '0/min', '100/fortnight', '/min', '1e3/s']) expect(parseRate(bad)).toBeUndefined();
  });
});

describe('server key', () => {
  it('is created with mode 0600 and read back identically', () => {
    const a = loadTokenHasher(dir, undefined, true);
    expect(statSync(join(dir, 'keys', 'token-hmac.key')).mode & 0o777).toBe(0o600);
    const b = loadTokenHasher(dir, undefined, false);
    expect(a.hash('x')).toBe(b.hash('x'));
  });

  it('refuses a key file others can read, a missing key, and a short secret', () => {
    expect(() => loadTokenHasher(dir, undefined, false)).toThrow(/latchkey init/);
    loadTokenHasher(dir, undefined, true);
    chmodSync(join(dir, 'keys', 'token-hmac.key'), 0o644);
    expect(() => loadTokenHasher(dir, undefined, false)).toThrow(/chmod 600/);
    expect(() => loadTokenHasher(dir, 'short', false)).toThrow(/at least 32/);
    expect(loadTokenHasher(dir, 'x'.repeat(32), false).hash('a')).toMatch(/^[0-9a-f]{64}$/);
  });
});
