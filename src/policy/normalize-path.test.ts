import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSegment, normalizePath } from './normalize-path.js';

type Expected = { path: string; segments: readonly string[] } | { refused: RegExp };

// Each hostile path with what the gateway must do with it: refuse it (and why),
// or accept it in exactly this canonical form.
const HOSTILE: readonly (readonly [string, Expected])[] = [
  // dot segments, raw and encoded in every case
  ['/a/../b', { refused: /dot segment \.\./ }],
  ['/a/./b', { refused: /dot segment \./ }],
  ['/..', { refused: /dot segment/ }],
  ['/a/..', { refused: /dot segment/ }],
  ['/a/%2e%2e/b', { refused: /dot segment \.\./ }],
  ['/a/%2E%2E/b', { refused: /dot segment \.\./ }],
  ['/a/.%2E/b', { refused: /dot segment \.\./ }],
  ['/a/%2e./b', { refused: /dot segment \.\./ }],
  ['/a/%2e/b', { refused: /dot segment \./ }],
  ['/a/..;/b', { refused: /;/ }],
  ['/public/..%3B/admin', { refused: /;/ }],
  // encoded delimiters
  ['/a%2fb', { refused: /encoded \/ \(%2F\)/ }],
  ['/a%2Fb/c', { refused: /encoded \/ \(%2F\)/ }],
  ['/a/%2e%2e%2fadmin', { refused: /encoded \//i }],
  ['/a%5cb', { refused: /encoded backslash/ }],
  ['/a%5C..%5Cb', { refused: /encoded backslash/ }],
  ['/a\\b', { refused: /backslash/ }],
  ['/a\\..\\b', { refused: /backslash/ }],
  // empty segments
  ['//a', { refused: /empty segment/ }],
  ['/a//b', { refused: /empty segment/ }],
  ['/a///', { refused: /empty segment/ }],
  ['//', { refused: /empty segment/ }],
  // NUL and control characters, raw and encoded
  ['/a%00b', { refused: /control/ }],
  ['/a%00', { refused: /control/ }],
  ['/a\u0000b', { refused: /control/ }],
  ['/a%0d%0aSet-Cookie:x', { refused: /control/ }],
  ['/a\tb', { refused: /control/ }],
  ['/a%7F', { refused: /control/ }],
  ['/a%C2%85', { refused: /control/ }],
  // double encoding and literal percents
  ['/a/%252e%252e/b', { refused: /%25/ }],
  ['/a%252f', { refused: /%25/ }],
  ['/100%25', { refused: /%25/ }],
  ['/a%25u002e', { refused: /%25/ }],
  // malformed escapes
  ['/a%G1', { refused: /malformed percent-escape %G1/ }],
  ['/a%', { refused: /truncated/ }],
  ['/a%2', { refused: /truncated/ }],
  ['/%zz', { refused: /malformed/ }],
  // invalid, overlong and surrogate UTF-8
  ['/%C0%AE%C0%AE/b', { refused: /lead byte %C0/ }],
  ['/%C1%9C', { refused: /lead byte/ }],
  ['/%E0%80%AE', { refused: /overlong/ }],
  ['/%F0%80%80%AE', { refused: /overlong/ }],
  ['/%ED%A0%80', { refused: /overlong|invalid/ }],
  ['/%F4%90%80%80', { refused: /invalid/ }],
  ['/%F5%80%80%80', { refused: /lead byte/ }],
  ['/%C3', { refused: /truncated UTF-8/ }],
  ['/%C3x', { refused: /truncated UTF-8/ }],
  ['/%80', { refused: /lead byte %80/ }],
  ['/%C3%28', { refused: /invalid/ }],
  // raw bytes that must be escaped, and other request-target forms
  ['/caf\u00e9', { refused: /raw non-ASCII/ }],
  ['/a b', { refused: /raw space/ }],
  ['/a#frag', { refused: /raw #/ }],
  ['/a?b', { refused: /raw \?/ }],
  ['*', { refused: /asterisk-form/ }],
  ['http://evil.example/a', { refused: /must start with \// }],
  ['evil.example:443', { refused: /must start with \// }],
  ['', { refused: /must start with \// }],
  ['/a;jsessionid=1', { refused: /;/ }],
  // Unicode look-alikes that some servers fold to delimiters
  ['/%EF%BC%8E%EF%BC%8E/admin', { refused: /fold/ }],
  ['/a%EF%BC%8Fb', { refused: /fold/ }],
  // accepted, in canonical form
  ['/', { path: '/', segments: [] }],
  ['/v1/orders/7', { path: '/v1/orders/7', segments: ['v1', 'orders', '7'] }],
  ['/v1/orders/', { path: '/v1/orders/', segments: ['v1', 'orders'] }],
  ['/%76%31/%6Frders', { path: '/v1/orders', segments: ['v1', 'orders'] }],
  ['/a%2eb', { path: '/a.b', segments: ['a.b'] }],
  ['/...', { path: '/...', segments: ['...'] }],
  ['/.well-known/x', { path: '/.well-known/x', segments: ['.well-known', 'x'] }],
  ['/caf%c3%a9', { path: '/caf%C3%A9', segments: ['caf\u00e9'] }],
  ['/%F0%9F%94%91', { path: '/%F0%9F%94%91', segments: ['\u{1F511}'] }],
  ['/items:batchGet', { path: '/items%3AbatchGet', segments: ['items:batchGet'] }],
  ['/a%3ab', { path: '/a%3Ab', segments: ['a:b'] }],
  ['/a+b', { path: '/a%2Bb', segments: ['a+b'] }],
  ['/a%20b', { path: '/a%20b', segments: ['a b'] }],
  ['/a%3Fb', { path: '/a%3Fb', segments: ['a?b'] }],
  ["/a!$&'()*,=@", { path: '/a%21%24%26%27%28%29%2A%2C%3D%40', segments: ["a!$&'()*,=@"] }],
  ['/~user/a-b_c', { path: '/~user/a-b_c', segments: ['~user', 'a-b_c'] }],
  ['/a%7eb', { path: '/a~b', segments: ['a~b'] }],
  ['/{id}|x', { path: '/%7Bid%7D%7Cx', segments: ['{id}|x'] }],
];

describe('normalizePath: hostile paths', () => {
  it('has at least 40 hostile cases', () => {
    expect(HOSTILE.filter(([, expected]) => 'refused' in expected).length).toBeGreaterThanOrEqual(40);
  });

  it.each(HOSTILE)('%j', (raw, expected) => {
    const result = normalizePath(raw);
    if ('refused' in expected) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.detail).toMatch(expected.refused);
    } else {
      expect(result).toEqual({ ok: true, ...expected });
    }
  });
});

// Raw paths built from pieces that are often dangerous, so that random paths hit the edge cases.
const PIECES = ['/', '/', 'a', 'B', '.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '%00', '%41', '%7e', '%c3%a9', '%C3', '%a9', '%e2%82%ac', '%F0%9F%94%91', '%C0%AE', ';', ':', '@', '+', '%', '%g', '\\', '~', '-', '*', ' ', 'é', '%3B', '%3a', '%EF%BC%8F'];
const rawPath = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((pieces) => `/${pieces.join('')}`);
const anyPath = fc.oneof(rawPath, fc.string({ unit: 'binary', maxLength: 20 }).map((text) => `/${text}`));

describe('normalizePath: properties', () => {
  it('is idempotent, and a normalized path has no dot segment, empty segment or / inside a segment', () => {
    fc.assert(
      fc.property(anyPath, (raw) => {
        const first = normalizePath(raw);
        if (!first.ok) return;
        expect(normalizePath(first.path)).toEqual(first);
        for (const segment of first.segments) {
          expect(segment).not.toBe('.');
          expect(segment).not.toBe('..');
          expect(segment).not.toBe('');
          expect(segment).not.toContain('/');
          expect(segment).not.toContain('\\');
        }
        expect(first.path).not.toContain('//');
      }),
      { numRuns: 20_000 },
    );
  });

  it('decodes exactly as the platform decoder does, and the canonical path spells the segments', () => {
    fc.assert(
      fc.property(anyPath, (raw) => {
        const result = normalizePath(raw);
        if (!result.ok) return;
        const rawSegments = raw.slice(1).split('/').filter((segment, index, all) => !(segment === '' && index === all.length - 1));
        expect(rawSegments.map((segment) => decodeURIComponent(segment))).toEqual(result.segments);
        const trailing = raw.length > 1 && raw.endsWith('/') ? '/' : '';
        expect(result.path).toBe(`/${result.segments.map(encodeSegment).join('/')}${trailing}`);
        expect(result.path).toMatch(/^[A-Za-z0-9\-._~%/]*$/);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts every path whose segments are safe text, spelled canonically', () => {
    const safeSegment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((text) => !/[\u0000-\u001f\u007f-\u009f/\\%;]/.test(text) && text !== '.' && text !== '..' && text.normalize('NFKC') === text);
    fc.assert(
      fc.property(fc.array(safeSegment, { maxLength: 5 }), (segments) => {
        const result = normalizePath(`/${segments.map(encodeURIComponent).join('/')}`);
        expect(result).toEqual({ ok: true, path: `/${segments.map(encodeSegment).join('/')}`, segments });
      }),
      { numRuns: 5_000 },
    );
  });
});
