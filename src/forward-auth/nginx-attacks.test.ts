// The HTTP attack suite's path and header cases (src/gateway/attacks.test.ts)
// sent twice, over raw TCP: straight to the gateway, and through real nginx +
// auth_request to the forward-auth endpoint. Each must get the same decision:
// allowed by both, or refused by both with the same reason code. Where nginx
// rejects a request itself before asking Latchkey (its own 4xx page, no reason
// code), that counts as refused by the proxy, accepted only if the gateway
// refuses the same request too. Whatever nginx refuses, its upstream sees nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxAvailable, startNginxWith, type NginxProxy } from '../bench/nginx.js';
import { rawExchange } from '../gateway/testing/raw-http.js';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { binding, GatewayWorld } from '../gateway/testing/world.js';
import { startEndpoint } from './testing/forward-auth-world.js';
import { nginxAuthConfig } from './testing/nginx-auth.js';

const available = nginxAvailable();
if (!available) console.warn('forward-auth nginx attack cases skipped: /usr/sbin/nginx is not installed (apt-get install nginx-light)');

interface AttackCase {
  readonly name: string;
  readonly method?: string;
  /** The request target, given the gateway's service prefix (`/orders`; empty through nginx, whose config names the service). */
  readonly target: (prefix: string) => string;
  readonly host?: string;
  /** Raw header lines (each ending in CRLF) after Host and Authorization. */
  readonly headers?: string;
  readonly body?: string;
  readonly tokenless?: boolean;
}

const under = (rest: string) => (prefix: string) => `${prefix}/v1/public${rest}`;

// attacks.test.ts, "request targets and paths"
const HOSTILE_PATHS = [
  '/%2e%2e/%2e%2e/admin', '/%2E%2E/admin', '/..%2fadmin', '/%2fadmin', '/%252e%252e/admin', '/%252fadmin', '/../admin', '/./a', '//a',
  '/%5c..%5cadmin', '/..;/admin', '/%c0%ae%c0%ae/admin', '/a%00.json', '/%ef%bc%8e%ef%bc%8e/admin',
];
// attacks.test.ts, "method override": [name, query, header]
const OVERRIDES: Array<[string, string, string]> = [
  ['X-HTTP-Method-Override', '', 'X-HTTP-Method-Override: DELETE\r\n'],
  ['x-http-method-override lowercase', '', 'x-http-method-override: delete\r\n'],
  ['X-HTTP-Method', '', 'X-HTTP-Method: DELETE\r\n'],
  ['X-Method-Override', '', 'X-Method-Override: DELETE\r\n'],
  ['?_method=', '?_method=DELETE', ''],
  ['?_METHOD=', '?a=1&_METHOD=delete', ''],
  ['?%5Fmethod=', '?%5Fmethod=DELETE', ''],
  ['?_%6d%65thod=', '?_%6d%65thod=DELETE', ''],
  ['?.method=', '?.method=DELETE', ''],
  ['?_method=%44ELETE', '?_method=%44ELETE', ''],
  ['overrides that disagree', '?_method=PUT', 'X-HTTP-Method-Override: DELETE\r\n'],
  ['two override headers that disagree', '', 'X-HTTP-Method: DELETE\r\nX-Method-Override: PATCH\r\n'],
  ['a list of methods in one header', '', 'X-HTTP-Method-Override: DELETE, PUT\r\n'],
  ['an override that is no method', '', 'X-HTTP-Method-Override: PROPFIND\r\n'],
  ['an empty override', '?_method=', ''],
];

const CASES: AttackCase[] = [
  { name: 'an allowed GET (control)', target: under('/a') },
  { name: 'an allowed POST (control)', method: 'POST', target: under('/a'), headers: 'Content-Length: 2\r\n', body: '{}' },
  { name: 'no token (control)', target: under('/a'), tokenless: true },
  ...HOSTILE_PATHS.map((path): AttackCase => ({ name: `path ${path}`, target: under(path) })),
  { name: 'an absolute-form target', target: (prefix) => `http://internal.example${prefix}/v1/admin` },
  { name: 'an asterisk-form target', method: 'OPTIONS', target: () => '*' },
  ...['Get', 'get', 'GeT'].map((method): AttackCase => ({ name: `mixed-case method ${method}`, method, target: under('/a') })),
  ...['FOO', 'TRACE', 'PROPFIND'].map((method): AttackCase => ({ name: `method ${method}`, method, target: under('/a') })),
  { name: 'method CONNECT', method: 'CONNECT', target: () => 'internal.example:443' },
  { name: 'two Authorization headers', target: under('/a'), headers: 'Authorization: Bearer lk_prod_other\r\n' },
  ...['evil.example/admin', 'a@evil.example', 'a, b', ''].map((host): AttackCase => ({ name: `Host ${JSON.stringify(host)}`, target: under('/a'), host })),
  { name: 'two Host headers', target: under('/a'), headers: 'Host: b\r\n' },
  { name: 'an oversize header', target: under('/a'), headers: `X-Big: ${'a'.repeat(20_000)}\r\n` },
  { name: 'thousands of headers', target: under('/a'), headers: Array.from({ length: 2000 }, (_, i) => `x${i}:1\r\n`).join('') },
  { name: '101 headers', target: under('/a'), headers: Array.from({ length: 98 }, (_, i) => `x${i}: 1\r\n`).join('') },
  ...OVERRIDES.map(([name, query, header]): AttackCase => ({ name: `override ${name}`, method: 'POST', target: under(`/a${query}`), headers: `${header}Content-Length: 2\r\n`, body: '{}' })),
  { name: 'header names with underscores', target: under('/a'), headers: 'X_Latchkey_Token_Id: forged\r\nX_Real_IP: 10.9.9.9\r\nX_Forwarded_Host: evil.example\r\nTransfer_Encoding: chunked\r\nX.Latchkey.Env: dev\r\nX-Latchkey_Token-Name: forged\r\n' },
];

/** allowed, a registry code, or (through nginx only) a refusal nginx answered itself. */
type Decision = 'allowed' | 'refused-by-proxy' | string;

function decisionOf(answer: string): Decision {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
  if (status >= 200 && status < 300) return 'allowed';
  const code = /"error":"([a-z_]+)"/.exec(answer)?.[1];
  return code ?? 'refused-by-proxy';
}

let world: GatewayWorld;
let upstream: TestUpstream;
let nginx: NginxProxy;
let token: string;

describe.skipIf(!available)('the attack suite\'s path and header cases through nginx + forward-auth', () => {
  beforeAll(async () => {
    world = await GatewayWorld.sqlite();
    upstream = await startUpstream();
    world.onCleanup(() => upstream.close());
    await world.addService('orders', [binding('prod', upstream.url)]);
    await world.start({ timeouts: { headersMs: 600, requestMs: 2000 } });
    const endpoint = await startEndpoint(world);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-nginx-attacks-'));
    world.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    nginx = await startNginxWith(dir, (port) => nginxAuthConfig(dir, port, { upstream: upstream.port, auth: endpoint.address.port, service: 'orders' }));
    world.onCleanup(() => nginx.stop());
    ({ token } = await world.issue({ permissions: ['orders:read:/v1/public/**', 'orders:POST:/v1/public/**'] }));
  }, 30_000);
  afterAll(() => world.close());

  const wire = (c: AttackCase, prefix: string) =>
    `${c.method ?? 'GET'} ${c.target(prefix)} HTTP/1.1\r\nHost: ${c.host ?? 'a'}\r\n${c.tokenless === true ? '' : `Authorization: Bearer ${token}\r\n`}${c.headers ?? ''}Connection: close\r\n\r\n${c.body ?? ''}`;

  it('every case gets the gateway\'s decision through nginx, and nothing nginx refuses reaches the upstream', async () => {
    const rows: Array<[string, Decision, Decision]> = [];
    for (const c of CASES) {
      const direct = decisionOf(await rawExchange(world.gateway.address.port, wire(c, '/orders'), 1500));
      upstream.seen.length = 0;
      const proxied = decisionOf(await rawExchange(nginx.port, wire(c, ''), 1500));
      if (proxied !== 'allowed') expect([c.name, upstream.seen.map((r) => `${r.method} ${r.url}`)]).toEqual([c.name, []]);
      rows.push([c.name, direct, proxied]);
    }
    const mismatches = rows.filter(([, direct, proxied]) => (proxied === 'refused-by-proxy' ? direct === 'allowed' : direct !== proxied));
    expect(mismatches).toEqual([]);
    // The table must exercise both outcomes and Latchkey's own refusals through nginx, not only nginx's.
    expect(rows.filter(([, , proxied]) => proxied === 'allowed').length).toBeGreaterThanOrEqual(3);
    expect(rows.filter(([, , proxied]) => proxied === 'request_ambiguous').length).toBeGreaterThanOrEqual(5);
    expect(rows.filter(([, , proxied]) => proxied === 'permission_denied').length).toBeGreaterThanOrEqual(5);
    console.log(rows.map((row) => row.join(' | ')).join('\n'));
  }, 120_000);
});
