import { describe, expect, it } from 'vitest';
import type { ServiceRoute } from '../upstream/service-table.js';
import { scanRequestHeaders } from './request-headers.js';

const service = {
  name: 'orders',
  tokenHeader: 'authorization',
  maxBodyBytes: 1000,
  stripped: new Set(['authorization', 'x-api-key']),
  bindings: new Map(),
  metrics: { allowed: { inc() {} }, allowedSeconds: { observe() {} } },
  paths: 'exact',
  headerUnderscores: 'drop',
} satisfies ServiceRoute;

function scan(...raw: string[]) {
  return scanRequestHeaders(raw, service, 100);
}

describe('scanRequestHeaders', () => {
  it('finds the Bearer token and forwards only end-to-end headers', () => {
    const result = scan('Host', 'a', 'Authorization', 'bearer  lk_x ', 'X-Latchkey-Env', 'dev', 'X-Api-Key', 'forged', 'Accept', 'json', 'Keep-Alive', '5');
    expect(result.token).toBe('lk_x');
    expect(result.forward).toEqual(['Accept', 'json']);
  });

  it('keeps X-Forwarded-For aside for the forward stage to rewrite', () => {
    const result = scan('X-Forwarded-For', '203.0.113.9', 'x-forwarded-for', '198.51.100.1', 'Accept', '*/*');
    expect(result.forwardedFor).toBe('203.0.113.9,198.51.100.1');
    expect(result.forward).toEqual(['Accept', '*/*']);
  });

  it('drops fields named in Connection', () => {
    expect(scan('Connection', 'X-Hop, close', 'X-Hop', '1', 'X-Keep', '2').forward).toEqual(['X-Keep', '2']);
  });

  it('an Authorization that is not Bearer is an empty (malformed) token, not a missing one', () => {
    expect(scan('Authorization', 'Basic abc').token).toBe('');
    expect(scan('Accept', '*/*').token).toBeNull();
  });

  it('refuses duplicates and odd hosts', () => {
    expect(scan('Authorization', 'Bearer a', 'authorization', 'Bearer b').ambiguous).toMatch(/more than one authorization/);
    expect(scan('Host', 'a', 'host', 'b').ambiguous).toMatch(/Host/);
    expect(scan('Host', 'a/b').ambiguous).toMatch(/Host/);
    expect(scan('Host', '[::1]:8080').ambiguous).toBeNull();
  });

  it('refuses a request at the header-count cap', () => {
    const raw = Array.from({ length: 100 }, (_, i) => [`x-${i}`, '1']).flat();
    expect(scanRequestHeaders(raw, service, 100).ambiguous).toMatch(/header fields/);
    expect(scanRequestHeaders(raw.slice(2), service, 100).ambiguous).toBeNull();
  });
});
