// The console's session and CSRF rules on the wire, against a real admin API
// on loopback (SQLite), with a clock the test moves: what a browser that
// ignored SameSite, a cross-site form, a stolen cookie without its CSRF token,
// and an ended session each get.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';
import { ConsoleSessions, SESSION_MAX_MS } from './sessions.js';

const HOUR = 3_600_000;

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: any; text: string }

describe('console sessions and CSRF protection', () => {
  let h: AdminHarness;
  let clock = Date.UTC(2026, 11, 2, 12, 0, 0);
  let origin: string;

  async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
    const response = await request(`${h.url}${path}`, { method: method as 'GET', headers, body: body ?? null });
    const text = await response.body.text();
    let parsed: unknown;
    try { parsed = text === '' ? undefined : JSON.parse(text); } catch { parsed = undefined; }
    return { status: response.statusCode, headers: response.headers, body: parsed, text };
  }

  /** Signs in as a browser on the console's own page would; returns the cookie pair and the CSRF token. */
  async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const reply = await send('POST', '/console/session', { origin, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, JSON.stringify({ token }));
    expect(reply.status, reply.text).toBe(200);
    const setCookie = String(reply.headers['set-cookie']);
    return { cookie: setCookie.split(';')[0]!, csrf: reply.body.csrf, setCookie };
  }

  const console_ = (session: { cookie: string; csrf: string }, extra: Record<string, string> = {}) => ({
    cookie: session.cookie, 'x-latchkey-csrf': session.csrf, origin, 'sec-fetch-site': 'same-origin', ...extra,
  });

  beforeAll(async () => {
    h = await startAdminHarness('sqlite', () => clock);
    origin = h.url;
  });
  afterAll(async () => h?.close());

  it('serves the console with a CSP that allows no inline script or style and nothing from elsewhere', async () => {
    expect(existsSync(resolve('dist/web/index.html')), 'run `npm run build` first').toBe(true);
    const page = await send('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-store');
    // Every script and stylesheet is a file of this origin; none inline, none from a CDN.
    expect(page.text).not.toMatch(/<script(?![^>]*\ssrc="\/assets\/)/);
    expect(page.text).not.toMatch(/<style|style="|https?:\/\//);
    for (const [, path] of page.text.matchAll(/(?:src|href)="(\/[^"]+)"/g)) expect((await send('GET', path!)).status, path).toBe(200);
  });

  it('signs in only from the console itself, with a valid admin token', async () => {
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ token: h.adminToken });
    // No Origin and no Sec-Fetch-Site: not a browser on the console's page.
    expect((await send('POST', '/console/session', json, body)).body.error).toBe('csrf_refused');
    expect((await send('POST', '/console/session', { ...json, origin: 'http://evil.example' }, body)).body.error).toBe('csrf_refused');
    expect((await send('POST', '/console/session', { ...json, origin, 'sec-fetch-site': 'cross-site' }, body)).body.error).toBe('csrf_refused');
    // A cross-site form is refused as such, before its body is read.
    const form = await send('POST', '/console/session', { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, `token=${h.adminToken}`);
    expect([form.status, form.body.error]).toEqual([403, 'csrf_refused']);
    const wrong = await send('POST', '/console/session', { ...json, origin }, JSON.stringify({ token: 'lk_prod_' + 'A'.repeat(38) }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('keeps only an opaque id in an HttpOnly SameSite=Strict cookie, and audits the sign-in', async () => {
    const session = await signIn(h.adminToken);
    expect(session.setCookie).toMatch(/^latchkey_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // Plain HTTP here: Secure is set only when the admin listener is reached over TLS.
    expect(session.setCookie).not.toContain('Secure');
    expect(session.setCookie).not.toContain(h.adminToken);
    expect(session.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const events = await h.store.readAudit({ kind: 'admin', limit: 1000 });
    expect(events.some((e) => e.kind === 'admin' && e.detail.action === 'console.signin')).toBe(true);
    expect(JSON.stringify(events)).not.toContain(h.adminToken);
  });

  it('accepts the cookie for admin API calls only with the CSRF token, from the same origin', async () => {
    const session = await signIn(h.adminToken);
    expect((await send('GET', '/v1/roles', console_(session))).status).toBe(200);
    const created = await send('POST', '/v1/roles', { ...console_(session), 'content-type': 'application/json' }, JSON.stringify({ name: 'via-console', permissions: ['latchkey:roles.read'] }));
    expect(created.status, created.text).toBe(201);

    const refused = async (headers: Record<string, string>) => {
      const reply = await send('POST', '/v1/roles', { ...headers, 'content-type': 'application/json' }, JSON.stringify({ name: 'forged', permissions: ['latchkey:roles.read'] }));
      return [reply.status, reply.body.error];
    };
    expect(await refused({ cookie: session.cookie, origin })).toEqual([403, 'csrf_refused']);
    expect(await refused({ ...console_(session), 'x-latchkey-csrf': 'A'.repeat(43) })).toEqual([403, 'csrf_refused']);
    expect(await refused(console_(session, { origin: 'http://evil.example' }))).toEqual([403, 'csrf_refused']);
    expect(await refused(console_(session, { origin: 'null' }))).toEqual([403, 'csrf_refused']);
    expect(await refused(console_(session, { origin: `${h.url}.evil.example` }))).toEqual([403, 'csrf_refused']);
    // Behind a proxy that terminates TLS the page's origin is https: the same host is the console.
    const viaTls = await send('GET', '/v1/roles', console_(session, { origin: h.url.replace('http:', 'https:') }));
    expect(viaTls.status).toBe(200);
    expect(await refused(console_(session, { 'sec-fetch-site': 'cross-site' }))).toEqual([403, 'csrf_refused']);
    // A browser that sent the cookie along with a cross-site form anyway: refused before the body is read.
    const form = await send('POST', '/v1/roles', { cookie: session.cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, 'name=forged');
    expect([form.status, form.body.error]).toEqual([403, 'csrf_refused']);
    expect((await h.call('GET', '/v1/roles/forged')).status).toBe(404);
    // Reads need the CSRF token too: a page elsewhere cannot make the console's session do anything.
    expect((await send('GET', '/v1/roles', { cookie: session.cookie })).body.error).toBe('csrf_refused');
  });

  it('ends the session at sign-out, when its token is revoked, and after 8 hours', async () => {
    const session = await signIn(h.adminToken);
    expect((await send('DELETE', '/console/session', { cookie: session.cookie, origin })).body.error).toBe('csrf_refused');
    const out = await send('DELETE', '/console/session', console_(session));
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await send('GET', '/v1/roles', console_(session))).body.error).toBe('token_missing');
    expect((await send('GET', '/console/session', { cookie: session.cookie })).body).toEqual({ signedIn: false });

    const second = await h.mint(['latchkey:*']);
    const revocable = await signIn(second);
    const secondId = (await h.store.findTokenByHash(h.hasher.hash(second)))!.id;
    expect((await h.call('POST', `/v1/tokens/${secondId}/revoke`)).status).toBe(200);
    expect((await send('GET', '/v1/roles', console_(revocable))).body.error).toBe('token_revoked');

    const late = await signIn(h.adminToken);
    clock += SESSION_MAX_MS;
    expect((await send('GET', '/v1/roles', console_(late))).body.error).toBe('token_missing');
  });

  it('streams decisions to a signed-in console only', async () => {
    const session = await signIn(h.adminToken);
    expect((await send('GET', '/console/live')).status).toBe(401);
    expect((await send('GET', '/console/live', { cookie: session.cookie, origin: 'http://evil.example' })).body.error).toBe('csrf_refused');
    const response = await request(`${h.url}/console/live`, { headers: { cookie: session.cookie, 'sec-fetch-site': 'same-origin' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/event-stream');
    let received = '';
    let signedOut = false;
    // Read until the server ends the stream: it must, once the session is signed out.
    for await (const chunk of response.body) {
      received += chunk.toString();
      if (!signedOut && received.includes('\n\n')) {
        signedOut = true;
        expect((await send('DELETE', '/console/session', console_(session))).status).toBe(204);
      }
    }
    expect(signedOut).toBe(true);
    expect(received).toMatch(/^retry: 2000\nevent: ready\ndata: \{"after":\d+\}\n\n/);
  });
});

describe('ConsoleSessions', () => {
  it('ends a session no later than its token, and never later than 8 hours', () => {
    let now = 1_000_000;
    const sessions = new ConsoleSessions(() => now);
    const short = sessions.open('tok_a', 'a', now + HOUR);
    const long = sessions.open('tok_b', 'b', now + 30 * 24 * HOUR);
    expect(short.session.expiresAt).toBe(now + HOUR);
    expect(long.session.expiresAt).toBe(now + SESSION_MAX_MS);
    now += HOUR;
    expect(sessions.find(short.id)).toBeUndefined();
    expect(sessions.find(long.id)?.tokenId).toBe('tok_b');
    expect(() => sessions.authorize(long.id, undefined)).toThrow(expect.objectContaining({ code: 'csrf_refused' }));
    expect(sessions.authorize(long.id, long.session.csrf).tokenId).toBe('tok_b');
    now += SESSION_MAX_MS;
    expect(() => sessions.authorize(long.id, long.session.csrf)).toThrow(expect.objectContaining({ code: 'token_missing' }));
  });
});
