import { describe, expect, it } from 'vitest';
import type { ServiceRoute } from '../../core/services/service-table.js';
import { scanRequestHeaders } from './request-headers.js';

const service = {
  name: 'orders',
  tokenHeader: 'authorization',
  maxBodyBytes: 1000,
  stripped: new Set(['authorization', 'x-api-key']),
  bindings: new Map(),
  metrics: { allowed: { inc() {} }, allowedSeconds: { observe() {} } },
  kind: 'http',
  paths: 'exact',
  headerUnderscores: 'drop',
  sqlFunctions: [],
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

describe('header names with characters CGI reads as another name', () => {
  const forged = ['X_Latchkey_Token_Id', 'forged', 'X_Real_IP', '10.0.0.1', 'X_Forwarded_Host', 'evil', 'Transfer_Encoding', 'chunked', 'X.Latchkey.Env', 'dev', 'X_Forwarded_For', '10.0.0.2', 'X_Api_Key', 'k', 'Content_Length', '9'];
  const policy = (headerUnderscores: 'drop' | 'refuse' | 'allow') => ({ ...service, headerUnderscores });

  it('are dropped by default', () => {
    const result = scanRequestHeaders([...forged, 'X_Custom', 'a', 'Accept', 'json'], service, 100);
    expect(result.ambiguous).toBeNull();
    expect(result.forward).toEqual(['Accept', 'json']);
    expect(result.forwardedFor).toBeNull();
  });

  it('are refused with refuse', () => {
    expect(scanRequestHeaders(['X_Custom', 'a'], policy('refuse'), 100).ambiguous).toMatch(/X_Custom/);
  });

  it('with allow, are forwarded unless their CGI spelling is a header the gateway strips or states', () => {
    const result = scanRequestHeaders([...forged, 'X_Custom', 'a', 'X-Latchkey_Token-Name', 'forged'], policy('allow'), 100);
    expect(result.forward).toEqual(['X_Custom', 'a']);
    expect(result.chunked).toBe(false);
  });

  it('an underscored method override counts as one when forwarded', () => {
    expect(scanRequestHeaders(['X_HTTP_Method_Override', 'DELETE'], policy('allow'), 100).overrides).toEqual(['X_HTTP_Method_Override', 'DELETE']);
    expect(scanRequestHeaders(['X_HTTP_Method_Override', 'DELETE'], service, 100)).toMatchObject({ overrides: null, forward: [] });
    expect(scanRequestHeaders(['x-http-method-override', 'DELETE'], service, 100).overrides).toEqual(['x-http-method-override', 'DELETE']);
  });
});
