// Hand-written requests over raw TCP, each an attack on how the gateway reads
// HTTP. Whatever the gateway answers, the assertion that matters is on what
// the upstream saw: nothing, or exactly the request that was authorized.
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from './testing/raw-http.js';
import { binding, GatewayWorld } from './testing/world.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

let world: GatewayWorld;
let upstream: TestUpstream;
let token: string;
let port: number;

beforeAll(async () => {
  world = await GatewayWorld.sqlite();
  upstream = await startUpstream();
  world.onCleanup(() => upstream.close());
  await world.addService('orders', [binding('prod', `${upstream.url}/api`)]);
  await world.start({ timeouts: { headersMs: 600, requestMs: 2000 } });
  port = world.gateway.address.port;
  ({ token } = await world.issue({ permissions: ['orders:read:/v1/public/**', 'orders:POST:/v1/public/**'] }));
});
afterAll(() => world.close());
beforeEach(() => {
  upstream.seen.length = 0;
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
