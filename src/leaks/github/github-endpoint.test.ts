// POST /v1/leaks/github against a real admin API on SQLite, signed with a
// P-256 key pair generated here, laid out as GitHub's public_keys document.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../../test-support/admin-harness.js';
import { generateToken } from '../../token/index.js';
import { GithubKeys } from './keys.js';
import { githubTokenHash } from './report.js';

const KEY_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

function keyPair(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function signed(body: string, privateKey: KeyObject, keyId = KEY_ID): Record<string, string> {
  return {
    'content-type': 'application/json',
    'github-public-key-identifier': keyId,
    'github-public-key-signature': sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
  };
}

describe('GitHub secret-scanning endpoint', () => {
  const github = keyPair();
  const other = keyPair();
  let harness: AdminHarness;

  beforeAll(async () => {
    const keys = GithubKeys.parse(JSON.stringify({ public_keys: [{ key_identifier: KEY_ID, key: github.pem, is_current: true }] }), 'test');
    harness = await startAdminHarness('sqlite', Date.now, { extra: { githubKeys: keys } });
  });
  afterAll(async () => harness.close());

  const statusOf = async (token: string) => (await harness.store.findTokenByHash(harness.hasher.hash(token)))?.status;

  it('a valid signature revokes the live token, labels each entry, and records the report', async () => {
    const live = await harness.mint(['latchkey:audit.read']);
    const stranger = generateToken('prod');
    const body = JSON.stringify([
      { token: live, type: 'latchkey_token', url: 'https://github.com/acme/app/blob/abc/config.env#L3', source: 'content' },
      { token: stranger, type: 'latchkey_token', url: 'https://gist.github.com/x', source: 'gist' },
    ]);
    const response = await harness.call('POST', '/v1/leaks/github', { token: null, rawBody: body, headers: signed(body, github.privateKey) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual([
      { token_hash: githubTokenHash(live), token_type: 'latchkey_token', label: 'true_positive' },
      { token_hash: githubTokenHash(stranger), token_type: 'latchkey_token', label: 'false_positive' },
    ]);
    expect(response.text).not.toContain(live);
    expect(await statusOf(live)).toBe('revoked');
    const events = (await harness.store.readAudit({ kind: 'admin', limit: 10_000 })).filter((e) => e.kind === 'admin' && e.detail.action === 'leak.reported');
    expect(events.map((e) => (e.detail as { after: { url: string; githubSource: string; label: string } }).after)).toEqual([
      expect.objectContaining({ url: 'https://github.com/acme/app/blob/abc/config.env#L3', githubSource: 'content', type: 'latchkey_token', label: 'true_positive', state: 'active' }),
      expect.objectContaining({ url: 'https://gist.github.com/x', githubSource: 'gist', label: 'false_positive', state: 'unknown' }),
    ]);
    expect(JSON.stringify(events)).not.toContain(live);
    expect(harness.logs()).not.toContain(live);
  });

  it('a tampered body, an unknown key id, a wrong signature or a missing header: 401, nothing revoked', async () => {
    const live = await harness.mint(['latchkey:audit.read']);
    const body = JSON.stringify([{ token: live, type: 'latchkey_token', url: 'https://github.com/a/b', source: 'content' }]);
    const good = signed(body, github.privateKey);
    const tampered = body.replace('github.com/a/b', 'github.com/a/c');
    const cases: Array<[string, string, Record<string, string>]> = [
      ['tampered body', tampered, good],
      ['unknown key id', body, signed(body, github.privateKey, 'f'.repeat(64))],
      ['wrong signature', body, signed(body, other.privateKey)],
      ['garbage signature', body, { ...good, 'github-public-key-signature': 'not base64!' }],
      ['missing signature', body, { 'content-type': 'application/json', 'github-public-key-identifier': KEY_ID }],
      ['missing key id', body, { 'content-type': 'application/json', 'github-public-key-signature': good['github-public-key-signature']! }],
    ];
    for (const [name, sent, headers] of cases) {
      const response = await harness.call('POST', '/v1/leaks/github', { token: null, rawBody: sent, headers });
      expect([name, response.status, response.body?.error]).toEqual([name, 401, 'signature_invalid']);
    }
    expect(await statusOf(live)).toBe('active');
    // A Latchkey admin token is no substitute for GitHub's signature.
    const withToken = await harness.call('POST', '/v1/leaks/github', { rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(withToken.status).toBe(401);
    expect(await statusOf(live)).toBe('active');
  });

  it('handles 1,000 tokens in one report within 2 s', async () => {
    const live = await Promise.all(Array.from({ length: 100 }, () => harness.mint(['latchkey:audit.read'])));
    const tokens = [...live, ...Array.from({ length: 900 }, () => generateToken('prod'))];
    const body = JSON.stringify(tokens.map((token) => ({ token, type: 'latchkey_token', url: 'https://github.com/acme/big', source: 'commit' })));
    const started = performance.now();
    const response = await harness.call('POST', '/v1/leaks/github', { token: null, rawBody: body, headers: signed(body, github.privateKey) });
    const elapsed = performance.now() - started;
    process.stdout.write(`GitHub report of 1,000 tokens (100 live) handled in ${elapsed.toFixed(0)} ms\n`);
    expect(response.status).toBe(200);
    expect((response.body as Array<{ label: string }>).filter((entry) => entry.label === 'true_positive')).toHaveLength(100);
    expect(await statusOf(live[99]!)).toBe('revoked');
    // Generous for a loaded 2-core machine; the printed figure is the real one.
    expect(elapsed).toBeLessThan(2000);
  }, 30_000);
});
