// Hand-written requests over raw TCP, each an attack on how the gateway reads
// HTTP. Whatever the gateway answers, the assertion that matters is on what
// the upstream saw: nothing, or exactly the request that was authorized.
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from './testing/raw-http.js';
import { binding, GatewayWorld } from './testing/world.js';
import { startLooseUpstream, type LooseUpstream } from './testing/loose-upstream.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';
import { startWsgiUpstream, wsgiUnavailable, type WsgiUpstream } from './testing/wsgi-upstream.js';

let world: GatewayWorld;
let upstream: TestUpstream;
let token: string;
let port: number;
/** Routes like IIS + Rails + ASP.NET: case folded, trailing dots and spaces dropped, format suffix ignored. */
let lenientUpstream: LooseUpstream;
/** Routes like Express's default router: case-insensitive only. */
let caseUpstream: LooseUpstream;
let looseToken: string;

beforeAll(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', `${upstream.url}/api`)]);
  lenientUpstream = await startLooseUpstream({ caseInsensitive: true, stripTrailingDotsAndSpaces: true, ignoreFormatSuffix: true });
  caseUpstream = await startLooseUpstream({ caseInsensitive: true, stripTrailingDotsAndSpaces: false, ignoreFormatSuffix: false });
  world.onCleanup(() => lenientUpstream.close());
  world.onCleanup(() => caseUpstream.close());
  // The same lenient upstream behind a service left at the default profile shows the threat is real.
  await world.addService('naive', [binding('prod', `${lenientUpstream.url}/api`)]);
  await world.addService('loose', [binding('prod', `${lenientUpstream.url}/api`)], { paths: 'lenient' });
  await world.addService('folding', [binding('prod', `${caseUpstream.url}/api`)], { paths: 'case-insensitive' });
  await world.start({ timeouts: { headersMs: 600, requestMs: 2000 } });
  port = world.gateway.address.port;
  ({ token } = await world.issue({ permissions: ['orders:read:/v1/public/**', 'orders:POST:/v1/public/**'] }));
  ({ token: looseToken } = await world.issue({
    permissions: ['naive:*', '!naive:*:/v1/admin/**', 'loose:*', '!loose:*:/v1/admin/**', 'folding:*', '!folding:*:/v1/admin/**'],
  }));
});
afterAll(() => world.close());
beforeEach(() => {
  upstream.seen.length = 0;
  lenientUpstream.seen.length = 0;
  caseUpstream.seen.length = 0;
});

const auth = () => `Authorization: Bearer ${token}\r\n`;

/** Sends `text`, waits for the connection to close (or 1.5 s), and returns what came back. */
async function attack(text: string): Promise<string> {
  const answer = await rawExchange(port, text, 1500);
  // Give a request that slipped through the time to reach the upstream.
  await new Promise((r) => setTimeout(r, 50));
  return answer;
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

/** The upstream saw nothing but GET/POST requests for paths under the authorized prefix. */
function expectOnlyAuthorized(...allowed: string[]): void {
  for (const seen of upstream.seen) expect(allowed).toContain(`${seen.method} ${seen.url}`);
}

describe('request smuggling', () => {
  it('Content-Length and Transfer-Encoding together are rejected', async () => {
    const answer = await attack(
      `POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /orders/v1/admin HTTP/1.1\r\nHost: a\r\n${auth()}\r\n`,
    );
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('conflicting Content-Length headers are rejected', async () => {
    const answer = await attack(`POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: 5\r\nContent-Length: 45\r\n\r\nhello`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('duplicate identical Content-Length headers are rejected', async () => {
    const answer = await attack(`POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('a signed or padded Content-Length is rejected', async () => {
    const answer = await attack(`POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Content-Length: +5\r\n\r\nhello`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('a Transfer-Encoding other than chunked is rejected', async () => {
    const answer = await attack(`POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('obsolete line folding is rejected', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Folded: one\r\n two\r\n\r\n`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('a bare CR inside a header is rejected', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Split: a\rGET /orders/v1/admin HTTP/1.1\r\n\r\n`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('a bare LF line ending cannot smuggle a second request or header', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Split: a\nX-Latchkey-Token-Id: forged\r\n\r\n`);
    // Refused by the parser, or read as one request with the forged header stripped.
    if (statusOf(answer) === 200) {
      expect(upstream.seen).toHaveLength(1);
      expect(upstream.seen[0]!.headers['x-latchkey-token-id']).not.toBe('forged');
    } else expect(statusOf(answer)).toBe(400);
    expectOnlyAuthorized('GET /api/v1/public/a');
  });

  it('a NUL byte in a header value is rejected', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Nul: a\0b\r\n\r\n`);
    expect(statusOf(answer)).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('pipelined requests are each authorized on their own', async () => {
    const answer = await attack(
      `GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}\r\nGET /orders/v1/admin HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(answer).toContain('permission_denied');
    expect(upstream.seen.map((r) => r.url)).toEqual(['/api/v1/public/a']);
  });

  it('an invalid chunk size ends the connection without a second request', async () => {
    const answer = await attack(
      `POST /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\nzz\r\n0\r\n\r\nGET /orders/v1/admin HTTP/1.1\r\nHost: a\r\n${auth()}\r\n`,
    );
    expect(answer).not.toContain('"ok":true,"path":"/api/v1/admin"');
    expectOnlyAuthorized('POST /api/v1/public/a');
    expect(upstream.seen.every((r) => !r.body.toString().includes('GET'))).toBe(true);
  });
});

describe('request targets and paths', () => {
  it('an absolute-form target is refused', async () => {
    const answer = await attack(`GET http://internal.example/orders/v1/admin HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
    expect(statusOf(answer)).toBe(403);
    expect(answer).toContain('request_ambiguous');
    expect(upstream.seen).toEqual([]);
  });

  it('an asterisk-form target is refused', async () => {
    const answer = await attack(`OPTIONS * HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
    expect([400, 403]).toContain(statusOf(answer));
    expect(upstream.seen).toEqual([]);
  });

  const hostile = [
    '/orders/v1/public/%2e%2e/%2e%2e/admin',
    '/orders/v1/public/%2E%2E/admin',
    '/orders/v1/public/..%2fadmin',
    '/orders/v1/public/%2fadmin',
    '/orders/v1/public/%252e%252e/admin',
    '/orders/v1/public/%252fadmin',
    '/orders/v1/public/../admin',
    '/orders/v1/public/./a',
    '/orders/v1/public//a',
    '/orders/v1/public/%5c..%5cadmin',
    '/orders/v1/public/..;/admin',
    '/orders/v1/public/%c0%ae%c0%ae/admin',
    '/orders/v1/public/a%00.json',
    '/orders/v1/public/%ef%bc%8e%ef%bc%8e/admin',
  ];
  for (const path of hostile) {
    it(`refuses ${path}`, async () => {
      const answer = await attack(`GET ${path} HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
      expect([400, 403]).toContain(statusOf(answer));
      if (statusOf(answer) === 403) expect(answer).toContain('request_ambiguous');
      expect(upstream.seen).toEqual([]);
    });
  }

  it('a service name spelled with escapes is not the service', async () => {
    const answer = await attack(`GET /%6frders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
    expect(statusOf(answer)).toBe(404);
    expect(upstream.seen).toEqual([]);
  });
});

describe('methods and headers', () => {
  for (const method of ['Get', 'get', 'GeT']) {
    it(`mixed-case method ${method} is rejected`, async () => {
      const answer = await attack(`${method} /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
      expect([400, 403]).toContain(statusOf(answer));
      expect(upstream.seen).toEqual([]);
    });
  }

  for (const method of ['FOO', 'TRACE', 'PROPFIND', 'CONNECT']) {
    it(`method ${method} is refused`, async () => {
      const target = method === 'CONNECT' ? 'internal.example:443' : '/orders/v1/public/a';
      const answer = await attack(`${method} ${target} HTTP/1.1\r\nHost: a\r\n${auth()}Connection: close\r\n\r\n`);
      expect([400, 403]).toContain(statusOf(answer));
      expect(upstream.seen).toEqual([]);
    });
  }

  it('two Authorization headers are refused', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}Authorization: Bearer lk_prod_other\r\nConnection: close\r\n\r\n`);
    expect(statusOf(answer)).toBe(403);
    expect(answer).toContain('request_ambiguous');
    expect(upstream.seen).toEqual([]);
  });

  for (const host of ['evil.example/admin', 'a@evil.example', 'a, b', '']) {
    it(`Host ${JSON.stringify(host)} is refused`, async () => {
      const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: ${host}\r\n${auth()}Connection: close\r\n\r\n`);
      expect([400, 403]).toContain(statusOf(answer));
      expect(upstream.seen).toEqual([]);
    });
  }

  it('two Host headers are refused', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n${auth()}Connection: close\r\n\r\n`);
    expect([400, 403]).toContain(statusOf(answer));
    expect(upstream.seen).toEqual([]);
  });

  it('oversize headers get 431', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(statusOf(answer)).toBe(431);
    expect(upstream.seen).toEqual([]);
  });

  it('thousands of headers are refused', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `x${i}:1\r\n`).join('');
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}${many}Connection: close\r\n\r\n`);
    expect([403, 431]).toContain(statusOf(answer));
    expect(upstream.seen).toEqual([]);
  });

  it('101 headers (one over the count limit, under the size limit) are refused', async () => {
    const many = Array.from({ length: 98 }, (_, i) => `x${i}: 1\r\n`).join('');
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}${many}Connection: close\r\n\r\n`);
    expect(statusOf(answer)).toBe(403);
    expect(answer).toContain('request_ambiguous');
    expect(upstream.seen).toEqual([]);
  });

  it('a client sending headers byte by byte is timed out', async () => {
    const started = Date.now();
    const text = `GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}X-Slow: ${'s'.repeat(40)}\r\n\r\n`;
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      let index = 0;
      const drip = setInterval(() => {
        if (index < text.length && !socket.destroyed) socket.write(text[index++]!);
      }, 25);
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(drip);
        resolve(received);
      });
    });
    expect(statusOf(answer)).toBe(408);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(upstream.seen).toEqual([]);
  });
});

// Issue 8 finding 6: `!svc:*:/v1/admin/**` must hold on upstreams that match paths loosely.
describe('upstreams that match paths loosely', () => {
  const bypasses = ['/v1/ADMIN/x', '/v1/admin.json', '/v1/admin%20/x', '/v1/admin./x', '/v1/adm%C4%B1n/x', '/v1/Admin.JSON', '/v1/admin.%20./x'];
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${looseToken}\r\nConnection: close\r\n\r\n`;

  for (const path of bypasses) {
    it(`on the exact profile ${path} reaches the admin route of a lenient upstream (the threat)`, async () => {
      const answer = await attack(get(`/naive${path}`));
      expect(statusOf(answer)).toBe(200);
      expect(lenientUpstream.seen.map((r) => r.route)).toEqual([expect.stringMatching(/^\/api\/v1\/admin(\/x)?$/)]);
    });

    it(`on the lenient profile ${path} is refused and never reaches the upstream`, async () => {
      const answer = await attack(get(`/loose${path}`));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toMatch(/"error":"(permission_denied|request_ambiguous)"/);
      expect(lenientUpstream.seen).toEqual([]);
    });
  }

  for (const path of ['/v1/admin~/x', '/v1/ADMIN~1/x', '/v1/admin::$INDEX_ALLOCATION/x']) {
    it(`on the lenient profile an IIS short name or NTFS stream ${path} is request_ambiguous`, async () => {
      const answer = await attack(get(`/loose${path}`));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('request_ambiguous');
      expect(lenientUpstream.seen).toEqual([]);
    });
  }

  for (const path of ['/v1/ADMIN/x', '/v1/Admin', '/v1/%41dmin/x']) {
    it(`on the case-insensitive profile ${path} is permission_denied`, async () => {
      const answer = await attack(get(`/folding${path}`));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('permission_denied');
      expect(caseUpstream.seen).toEqual([]);
    });
  }

  for (const path of ['/v1/adm%C4%B1n/x', '/v1/%E2%84%AAey/x', '/v1/admin%C5%BF/x']) {
    it(`on the case-insensitive profile a non-ASCII path ${path} is request_ambiguous`, async () => {
      const answer = await attack(get(`/folding${path}`));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('request_ambiguous');
      expect(caseUpstream.seen).toEqual([]);
    });
  }

  it('on the case-insensitive profile what is forwarded never resolves to admin on a case-insensitive upstream', async () => {
    for (const path of bypasses) await attack(get(`/folding${path}`));
    expect(caseUpstream.seen.length).toBeGreaterThan(0);
    for (const seen of caseUpstream.seen) expect(seen.route).not.toMatch(/^\/api\/v1\/admin(\/|$)/);
  });

  it('an allowed path still works and reaches the upstream byte for byte (IDs keep their case)', async () => {
    for (const service of ['loose', 'folding']) {
      const answer = await attack(get(`/${service}/v1/Orders/AbC-12.json`));
      expect(statusOf(answer)).toBe(200);
    }
    expect(lenientUpstream.seen.map((r) => r.url)).toEqual(['/api/v1/Orders/AbC-12.json']);
    expect(caseUpstream.seen.map((r) => r.url)).toEqual(['/api/v1/Orders/AbC-12.json']);
  });

  it("a permission's resource is folded like the requests of its service", async () => {
    const { token: mixed } = await world.issue({ permissions: ['loose:GET:/v1/Reports/Q1.pdf', 'folding:GET:/v1/Reports/**'] });
    const send = (path: string) => attack(`GET ${path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${mixed}\r\nConnection: close\r\n\r\n`);
    expect(statusOf(await send('/loose/v1/reports/q1'))).toBe(200);
    expect(statusOf(await send('/loose/v1/REPORTS/Q1.PDF.'))).toBe(200);
    expect(statusOf(await send('/loose/v1/reports/q2'))).toBe(403);
    expect(statusOf(await send('/folding/v1/reports/x'))).toBe(200);
    expect(statusOf(await send('/folding/v1/reportsx/x'))).toBe(403);
    expect(lenientUpstream.seen.map((r) => r.url)).toEqual(['/api/v1/reports/q1', '/api/v1/REPORTS/Q1.PDF.']);
  });
});

// Issue 8 finding 7: an override names the method the upstream performs.
describe('method override', () => {
  const overrides: Array<[string, string, string]> = [
    ['X-HTTP-Method-Override', '', 'X-HTTP-Method-Override: DELETE\r\n'],
    ['x-http-method-override (lowercase, lowercase value)', '', 'x-http-method-override: delete\r\n'],
    ['X-HTTP-Method', '', 'X-HTTP-Method: DELETE\r\n'],
    ['X-Method-Override', '', 'X-Method-Override: DELETE\r\n'],
    ['?_method=', '?_method=DELETE', ''],
    ['?_METHOD= (case-insensitive name)', '?a=1&_METHOD=delete', ''],
    ['?%5Fmethod= (encoded name)', '?%5Fmethod=DELETE', ''],
    ['?_%6d%65thod= (encoded letters)', '?_%6d%65thod=DELETE', ''],
    ['?.method= (PHP reads it as _method)', '?.method=DELETE', ''],
    ['?_method=%44ELETE (encoded value)', '?_method=%44ELETE', ''],
  ];
  const post = (query: string, header: string, bearer = token) =>
    `POST /orders/v1/public/a${query} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${bearer}\r\n${header}Content-Length: 2\r\nConnection: close\r\n\r\n{}`;

  for (const [name, query, header] of overrides) {
    it(`${name} on a token granted only POST is refused and audited as DELETE`, async () => {
      const answer = await attack(post(query, header));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('permission_denied');
      expect(upstream.seen).toEqual([]);
      const event = (await world.decisions()).at(-1)!;
      expect(event).toMatchObject({ action: 'DELETE', decision: 'deny', reason: 'permission_denied', override: expect.stringContaining('POST') });
    });
  }

  it('a token granted POST and DELETE is allowed, and the audit says DELETE', async () => {
    const { token: both } = await world.issue({ permissions: ['orders:POST:/v1/public/**', 'orders:DELETE:/v1/public/**'] });
    for (const [, query, header] of overrides) {
      upstream.seen.length = 0;
      const answer = await attack(post(query, header, both));
      expect(statusOf(answer)).toBe(200);
      expect(upstream.seen.map((r) => `${r.method} ${r.url}`)).toEqual([`POST /api/v1/public/a${query}`]);
      expect((await world.decisions()).at(-1)).toMatchObject({ action: 'DELETE', decision: 'allow', override: expect.stringContaining('POST') });
    }
  });

  it('a token granted only DELETE cannot POST with an override (an upstream that ignores it performs the POST)', async () => {
    const { token: deleter } = await world.issue({ permissions: ['orders:DELETE:/v1/public/**'] });
    const answer = await attack(post('', 'X-HTTP-Method-Override: DELETE\r\n', deleter));
    expect(statusOf(answer)).toBe(403);
    expect(answer).toContain('permission_denied');
    expect(upstream.seen).toEqual([]);
  });

  const ambiguous: Array<[string, string, string]> = [
    ['overrides that disagree', '?_method=PUT', 'X-HTTP-Method-Override: DELETE\r\n'],
    ['two override headers that disagree', '', 'X-HTTP-Method: DELETE\r\nX-Method-Override: PATCH\r\n'],
    ['a list of methods in one header', '', 'X-HTTP-Method-Override: DELETE, PUT\r\n'],
    ['an override that is no method the gateway authorizes', '', 'X-HTTP-Method-Override: PROPFIND\r\n'],
    ['an empty override', '?_method=', ''],
  ];
  for (const [name, query, header] of ambiguous) {
    it(`${name} is request_ambiguous`, async () => {
      const answer = await attack(post(query, header));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('request_ambiguous');
      expect(upstream.seen).toEqual([]);
    });
  }
});

// Issue 8 finding 8: CGI and WSGI read `X_Real_IP` as HTTP_X_REAL_IP, the same key as `X-Real-IP`.
describe('header names with underscores', () => {
  const forged = 'X_Latchkey_Token_Id: forged\r\nX_Real_IP: 10.9.9.9\r\nX_Forwarded_Host: evil.example\r\nTransfer_Encoding: chunked\r\nX.Latchkey.Env: dev\r\nX-Latchkey_Token-Name: forged\r\n';

  it('are not forwarded by default', async () => {
    const answer = await attack(`GET /orders/v1/public/a HTTP/1.1\r\nHost: a\r\n${auth()}${forged}Connection: close\r\n\r\n`);
    expect(statusOf(answer)).toBe(200);
    expect(upstream.seen).toHaveLength(1);
    const names = upstream.seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(names.filter((name) => /[^A-Za-z0-9-]/.test(name))).toEqual([]);
    expect(upstream.seen[0]!.headers['x-latchkey-token-id']).not.toBe('forged');
  });

  describe('on a real WSGI upstream (Python wsgiref)', () => {
    const unavailable = wsgiUnavailable();
    let wsgi: WsgiUpstream;
    beforeAll(async () => {
      if (unavailable !== null) return;
      wsgi = await startWsgiUpstream();
      world.onCleanup(() => wsgi.close());
      await world.addService('wsgi', [binding('prod', wsgi.url)]);
      await world.addService('wsgi-allow', [binding('prod', wsgi.url)], { headerUnderscores: 'allow' });
      await world.addService('wsgi-refuse', [binding('prod', wsgi.url)], { headerUnderscores: 'refuse' });
      await world.gateway.reloadServices();
    }, 30_000);

    it.skipIf(unavailable !== null)(`never see a forged identity or client address${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, async () => {
      for (const service of ['wsgi', 'wsgi-allow']) {
        const { token: caller, record } = await world.issue({ permissions: [`${service}:*`] });
        const answer = await attack(
          `GET /${service}/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${caller}\r\n${forged}X_Custom_Thing: kept\r\nConnection: close\r\n\r\n`,
        );
        expect(statusOf(answer)).toBe(200);
        const environ = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
        expect(environ.HTTP_X_LATCHKEY_TOKEN_ID).toBe(record.id);
        expect(environ.HTTP_X_LATCHKEY_TOKEN_NAME).toBe(record.name);
        expect(environ.HTTP_X_LATCHKEY_ENV).toBe('prod');
        expect(environ.HTTP_X_REAL_IP).toBeUndefined();
        // The gateway's own statement of the Host the client used, never the forged one.
        expect(environ.HTTP_X_FORWARDED_HOST).toBe('a');
        expect(environ.HTTP_TRANSFER_ENCODING).toBeUndefined();
        expect(environ.HTTP_X_FORWARDED_FOR).toBe('127.0.0.1');
        // `allow` forwards an underscored name that claims nothing the gateway states.
        expect(environ.HTTP_X_CUSTOM_THING).toBe(service === 'wsgi-allow' ? 'kept' : undefined);
      }
    });

    it.skipIf(unavailable !== null)('with headerUnderscores refuse, the request is request_ambiguous', async () => {
      const { token: caller } = await world.issue({ permissions: ['wsgi-refuse:*'] });
      const answer = await attack(`GET /wsgi-refuse/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${caller}\r\nX_Real_IP: 10.9.9.9\r\nConnection: close\r\n\r\n`);
      expect(statusOf(answer)).toBe(403);
      expect(answer).toContain('request_ambiguous');
    });
  });
});
