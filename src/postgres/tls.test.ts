// TLS on the PostgreSQL listener: psql and the `pg` driver over TLS (the
// certificate verified), clients off loopback allowed only over TLS, `required`
// refusing clear text on loopback too, and the ways a connection can go wrong
// around the handshake. The certificate is made here with openssl.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresGateway, type PostgresGateway, type PostgresGatewayOptions } from './index.js';
import { build } from './testing/frames.js';
import { PgWorld, refusalOf } from './testing/pg-world.js';
import { loadPostgresTls, PostgresTlsError } from './tls.js';
import { parseBackend } from './wire/backend-parser.js';
import { Framer } from './wire/framer.js';
import type { BackendMessage } from './wire/messages.js';

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10), (2, 20), (3, 30);
  INSERT INTO public.secrets VALUES (1, 'root password');
`;

let dir: string;
let caFile: string;
let ca: Buffer;
let world: PgWorld;
let token: string;
const extra: PostgresGateway[] = [];

/** A non-loopback address of this machine: a client connecting to it is not a loopback client. */
function outsideAddress(): string {
  const found = Object.values(networkInterfaces()).flat().find((e) => e !== undefined && e.family === 'IPv4' && !e.internal);
  if (found === undefined) throw new Error('this test needs an IPv4 interface other than loopback (none found by os.networkInterfaces())');
  return found.address;
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lk-pg-tls-'));
  const outside = outsideAddress();
  // A CA, and the gateway's certificate signed by it for 127.0.0.1 and the outside address.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=latchkey test CA',
    '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem')]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'req.csr')]);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=IP:127.0.0.1,IP:${outside}\n`);
  openssl(['x509', '-req', '-in', join(dir, 'req.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '1',
    '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'cert.pem')]);
  caFile = join(dir, 'ca.pem');
  ca = readFileSync(caFile);
  const tls = loadPostgresTls({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), required: false });
  world = await PgWorld.start(SCHEMA, { tls, startupTimeoutMs: 2_000 });
  token = (await world.issue(['appdb:select:public.orders'])).token;
}, 60_000);

afterAll(async () => {
  for (const gateway of extra) await gateway.close();
  await world?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Another listener on the same data plane (the same tokens and services), at `host`. */
async function listener(host: string, options: Partial<PostgresGatewayOptions>): Promise<PostgresGateway> {
  const gateway = await startPostgresGateway({ plane: world.world.gateway.plane, listen: { host, port: 0 }, logger: world.world.logger, clock: world.world.clock, ...options });
  extra.push(gateway);
  return gateway;
}

function psql(host: string, port: number, sslmode: string, sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: token, PGCONNECT_TIMEOUT: '20', PGSSLMODE: sslmode, PGSSLROOTCERT: caFile };
    const child = spawn('psql', ['-h', host, '-p', String(port), '-U', 'job', '-d', 'appdb', '-X', '-A', '-t', '-f', '-'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(sql);
  });
}

/** Frames read from a socket (TCP or TLS) after the gateway's one-byte answer. */
class Reader {
  readonly messages: BackendMessage[] = [];
  readonly #framer = new Framer({ startup: false });
  closed = false;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.#framer.push(chunk)) this.messages.push(parseBackend(frame));
    });
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  async until(done: () => boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!done() && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.messages.map((m) => m.name).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  error(): string {
    const error = this.messages.find((m) => m.name === 'error');
    return error?.name === 'error' ? `${error.fields.get('C')} ${error.fields.get('M')}` : '(no error)';
  }
}

function tcp(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

function firstByte(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.subarray(0, 1).toString()));
    socket.once('close', () => resolve('(closed)'));
  });
}

/** An SSLRequest answered `S`, then a verified TLS handshake over the same connection. */
async function tlsSession(port: number): Promise<{ raw: Socket; secure: Socket }> {
  const raw = await tcp(port);
  const answer = firstByte(raw);
  raw.write(build.sslRequest());
  expect(await answer).toBe('S');
  const secure = await new Promise<Socket>((resolve, reject) => {
    const socket = connectTls({ socket: raw, ca, servername: undefined, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
  return { raw, secure };
}

describe('the PostgreSQL listener with a certificate', () => {
  it('psql with sslmode=verify-full verifies the certificate, logs in over TLS, reads the granted table and is refused the others', async () => {
    const read = await psql('127.0.0.1', world.port, 'verify-full', '\\conninfo\nSELECT sum(total) FROM orders;\nSELECT body FROM secrets;\n');
    expect(read.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
    expect(read.stdout).toContain('\n60\n');
    expect(read.stderr).toMatch(/ERROR: {2}latchkey: permission_denied: select: select on public\.secrets is not granted/);
  }, 60_000);

  it('the pg driver over TLS (extended protocol, parameters) reads the granted table; refusals are 42501 and the session goes on', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: world.port, database: 'appdb', user: 'job', password: token, ssl: { ca } });
    await client.connect();
    try {
      const cipher = (client as unknown as { connection: { stream: { getProtocol?: () => string } } }).connection.stream.getProtocol?.();
      expect(cipher).toMatch(/^TLSv1\.[23]$/);
      expect((await client.query('SELECT total FROM orders WHERE id = $1', [2])).rows).toEqual([{ total: 20 }]);
      expect(refusalOf(await client.query('DELETE FROM orders WHERE id = $1', [2]).catch((e: unknown) => e)).code).toBe('42501');
      expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 3 }]);
    } finally {
      await client.end();
    }
    expect(await world.direct(async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n)).toBe(3);
  }, 60_000);

  it('a client off loopback logs in only over TLS; in clear text it is refused before it can send the token', async () => {
    const outside = outsideAddress();
    const gateway = await listener(outside, { tls: loadPostgresTls({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), required: false }) });
    const clear = await psql(outside, gateway.address.port, 'disable', 'SELECT 1;\n');
    expect(clear.code).not.toBe(0);
    expect(clear.stderr).toContain('latchkey: invalid_request: the token would travel in clear text; connect with sslmode=require');
    // The refusal is audited, with the client's address.
    await expect.poll(async () => (await world.world.decisions()).some((d) => d.action === 'startup' && d.reason === 'invalid_request'
      && d.client === outside && String(d.resource).startsWith('the token would travel in clear text')), { timeout: 10_000 }).toBe(true);
    const secure = await psql(outside, gateway.address.port, 'verify-full', 'SELECT sum(total) FROM orders;\n');
    expect(secure.stderr).toBe('');
    expect(secure.stdout.trim()).toBe('60');
  }, 60_000);

  it('without a certificate, SSLRequest is answered N and a client off loopback is refused, told why', async () => {
    const outside = outsideAddress();
    const gateway = await listener(outside, {});
    const required = await psql(outside, gateway.address.port, 'require', 'SELECT 1;\n');
    expect(required.stderr).toMatch(/server does not support SSL/);
    const clear = await psql(outside, gateway.address.port, 'disable', 'SELECT 1;\n');
    expect(clear.stderr).toContain('this gateway has no TLS certificate configured');
  }, 60_000);

  it('with required: true, clear text is refused on loopback too, and TLS is served', async () => {
    const gateway = await listener('127.0.0.1', { tls: loadPostgresTls({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), required: true }) });
    const clear = await psql('127.0.0.1', gateway.address.port, 'disable', 'SELECT 1;\n');
    expect(clear.stderr).toContain('latchkey: invalid_request: this gateway requires TLS: connect with sslmode=require');
    const secure = await psql('127.0.0.1', gateway.address.port, 'require', 'SELECT count(*) FROM orders;\n');
    expect(secure.stdout.trim()).toBe('3');
  }, 60_000);

  it('a startup packet sent with the SSLRequest, before the S (injected ahead of the handshake), ends the connection with 08P01 and reaches no upstream', async () => {
    const before = await world.upstreamConnections();
    const raw = await tcp(world.port);
    const reader = new Reader(raw);
    raw.write(Buffer.concat([build.sslRequest(), build.startup({ user: 'job', database: 'appdb' }), build.password(token)]));
    await reader.until(() => reader.closed);
    expect(reader.error()).toBe('08P01 latchkey: invalid_request: bytes arrived after the SSLRequest before the TLS handshake');
    expect(await world.upstreamConnections()).toBe(before);
  }, 30_000);

  it('a second SSLRequest inside TLS ends the connection with 08P01', async () => {
    const { secure } = await tlsSession(world.port);
    const reader = new Reader(secure);
    secure.write(build.sslRequest());
    await reader.until(() => reader.closed);
    expect(reader.error()).toBe('08P01 latchkey: invalid_request: an SSLRequest on a connection already encrypted');
  }, 30_000);

  it('a raw client completes startup over TLS and gets its first ReadyForQuery', async () => {
    const { secure } = await tlsSession(world.port);
    const reader = new Reader(secure);
    secure.write(build.startup({ user: 'job', database: 'appdb' }));
    await reader.until(() => reader.messages.some((m) => m.name === 'authentication'));
    secure.write(build.password(token));
    await reader.until(() => reader.messages.some((m) => m.name === 'readyForQuery' || m.name === 'error'));
    expect(reader.messages.map((m) => m.name)).toContain('readyForQuery');
    secure.destroy();
  }, 30_000);

  it('garbage instead of a TLS handshake, and a client that never shakes hands, are closed; the listener goes on serving', async () => {
    const garbage = await tcp(world.port);
    const answer = firstByte(garbage);
    garbage.write(build.sslRequest());
    expect(await answer).toBe('S');
    const closed = new Promise<void>((resolve) => garbage.once('close', () => resolve()));
    garbage.on('error', () => {});
    garbage.write(Buffer.alloc(512, 0x41));
    await closed;

    const silent = await tcp(world.port);
    silent.on('error', () => {});
    const silentAnswer = firstByte(silent);
    const started = Date.now();
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    silent.write(build.sslRequest());
    expect(await silentAnswer).toBe('S');
    await silentClosed;
    // The startup timeout (2 s here) covers the handshake.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);

    const after = await psql('127.0.0.1', world.port, 'verify-full', 'SELECT count(*) FROM orders;\n');
    expect(after.stdout.trim()).toBe('3');
  }, 60_000);
});

describe('loadPostgresTls', () => {
  it('names the file it cannot read, and a key that is not the certificate\'s, without printing either', () => {
    expect(() => loadPostgresTls({ cert: join(dir, 'missing.pem'), key: join(dir, 'key.pem'), required: false }))
      .toThrow(new PostgresTlsError(`postgres.tls: the certificate file ${join(dir, 'missing.pem')} cannot be read (ENOENT)`));
    expect(() => loadPostgresTls({ cert: join(dir, 'cert.pem'), key: join(dir, 'ca.key'), required: false }))
      .toThrow(new PostgresTlsError(`postgres.tls: ${join(dir, 'cert.pem')} and ${join(dir, 'ca.key')} cannot be used: the key does not belong to the certificate`));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    let message = '';
    try {
      loadPostgresTls({ cert: join(dir, 'junk.pem'), key: join(dir, 'key.pem'), required: false });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`postgres.tls: ${join(dir, 'junk.pem')} and ${join(dir, 'key.pem')} cannot be used: not a PEM certificate and its private key`);
    expect(message).not.toContain('PRIVATE KEY');
  });
});
