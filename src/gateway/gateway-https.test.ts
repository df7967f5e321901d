// HTTPS upstreams: certificates are verified by default, an extra CA can be
// trusted explicitly. The certificate is made here with openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binding, envCredential, GatewayWorld } from './testing/world.js';

let dir: string;
let cert: Buffer;
let port: number;
let close: () => void;
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lk-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'));
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    seen.push(`${req.url} ${req.headers.authorization}`);
    res.end('secure');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  close = () => {
    server.closeAllConnections();
    server.close();
  };
});
afterAll(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS upstreams', () => {
  for (const trusted of [false, true]) {
    it(trusted ? 'forwards once the CA is trusted' : 'refuses an upstream whose certificate it cannot verify (502)', async () => {
      process.env.PROD_TLS_SECRET = 'tls-upstream-secret';
      const world = await GatewayWorld.sqlite();
      try {
        await world.addService('secure', [binding('prod', `https://127.0.0.1:${port}/base`, envCredential('PROD_TLS_SECRET'))]);
        await world.start(trusted ? { upstreamCa: cert } : {});
        const { token } = await world.issue({ permissions: ['secure:*'] });
        const reply = await world.send('/secure/x', { token });
        if (trusted) {
          expect(reply.status).toBe(200);
          expect(reply.text).toBe('secure');
          expect(seen.at(-1)).toBe('/base/x Bearer tls-upstream-secret');
        } else {
          expect(reply.status).toBe(502);
          expect(reply.json?.error).toBe('upstream_unreachable');
        }
      } finally {
        await world.close();
      }
    });
  }
});
