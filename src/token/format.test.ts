import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksumOf, displayHint, generateToken, MAX_TOKEN_LENGTH, parseToken } from './format.js';
import { TokenHasher } from './keyed-hash.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const envArb = fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/);
const tokenArb = envArb.map((env) => generateToken(env));
// Characters a typo, a copy error or a forger might introduce: base62, separators, and others.
const charArb = fc.constantFrom(...BASE62, '_', '-', '.', ' ', '/', '+', '=');

describe('token format', () => {
  it('generates lk_<env>_<32 random><6 checksum> that parses, with a valid checksum', () => {
    fc.assert(fc.property(envArb, (env) => {
      const token = generateToken(env);
      expect(token).toMatch(new RegExp(`^lk_${env}_[0-9A-Za-z]{38}$`));
      expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
      const parsed = parseToken(token);
      expect(parsed).toEqual({ env, text: token });
      expect(token.slice(-6)).toBe(checksumOf(token.slice(0, -6)));
    }), { numRuns: 2000 });
  });

  it('rejects any single-character substitution', () => {
    fc.assert(fc.property(tokenArb, fc.nat(), charArb, (token, at, char) => {
      const index = at % token.length;
      fc.pre(token[index] !== char);
      const changed = token.slice(0, index) + char + token.slice(index + 1);
      expect(parseToken(changed)).toBeUndefined();
    }), { numRuns: 20_000 });
  });

  it('rejects any single-character deletion', () => {
    fc.assert(fc.property(tokenArb, fc.nat(), (token, at) => {
      const index = at % token.length;
      expect(parseToken(token.slice(0, index) + token.slice(index + 1))).toBeUndefined();
    }), { numRuns: 20_000 });
  });

  it('rejects any single-character insertion', () => {
    fc.assert(fc.property(tokenArb, fc.nat(), charArb, (token, at, char) => {
      const index = at % (token.length + 1);
      expect(parseToken(token.slice(0, index) + char + token.slice(index))).toBeUndefined();
    }), { numRuns: 20_000 });
  });

  it('rejects every truncation', () => {
    fc.assert(fc.property(tokenArb, (token) => {
      for (let length = 0; length < token.length; length++) expect(parseToken(token.slice(0, length))).toBeUndefined();
    }), { numRuns: 500 });
  });

  it('rejects oversized and odd input without work', () => {
    expect(parseToken('lk_prod_' + 'a'.repeat(10_000))).toBeUndefined();
    expect(parseToken('')).toBeUndefined();
    expect(parseToken('LK_prod_' + generateToken('prod').slice(8))).toBeUndefined();
    expect(parseToken(generateToken('prod') + '\n')).toBeUndefined();
  });

  it('generates 100,000 distinct tokens', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(generateToken('prod'));
    expect(seen.size).toBe(100_000);
  });

  it('draws each random character uniformly from base62', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 5_000; i++) for (const c of generateToken('dev').slice(7, 39)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (5_000 * 32) / 62;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.1);
  });

  it('shows only the environment and the last four characters', () => {
    const token = generateToken('staging');
    expect(displayHint(token)).toBe(`lk_staging_…${token.slice(-4)}`);
  });
});

describe('keyed hash', () => {
  it('is stable under one key, different under another, and checked in constant time', () => {
    const token = generateToken('prod');
    const a = new TokenHasher(TokenHasher.generateKey());
    const b = new TokenHasher(TokenHasher.generateKey());
    expect(a.hash(token)).toBe(a.hash(token));
    expect(a.hash(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash(token)).not.toBe(b.hash(token));
    expect(a.matches(token, a.hash(token))).toBe(true);
    expect(a.matches(token, b.hash(token))).toBe(false);
    expect(a.matches(token, 'abcd')).toBe(false);
  });

  it('refuses a short key', () => {
    expect(() => new TokenHasher(Buffer.alloc(16))).toThrow(/at least 32 bytes/);
  });
});
