import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { LatchkeyError } from '../errors/index.js';

// The console's sessions. The browser holds only an opaque, random session id
// in an HttpOnly SameSite=Strict cookie; the admin token it signed in with is
// never stored (not in the cookie, not in JS-readable storage, not here): the
// session remembers the token's id, and every request re-admits that token
// from the store, so revoking, disabling or expiring it ends the session at
// once. A session also ends at sign-out, after SESSION_MAX_MS, and with the
// process (the map lives in memory; a restart signs everyone out).

export const SESSION_COOKIE = 'latchkey_session';
export const CSRF_HEADER = 'x-latchkey-csrf';
/** An absolute cap, like a bank's console: sign in again after a working day. */
export const SESSION_MAX_MS = 8 * 60 * 60 * 1000;
const MAX_SESSIONS = 10_000;

export interface ConsoleSession {
  /** The admin token the session acts as (its id, never its secret). */
  readonly tokenId: string;
  readonly tokenName: string;
  /** Double-submit token: JS reads it from the sign-in answer and sends it in CSRF_HEADER. */
  readonly csrf: string;
  readonly expiresAt: number;
}

const randomId = () => randomBytes(32).toString('base64url');

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Requests that ride on the cookie must come from the console's own pages:
 * a browser's Sec-Fetch-Site (when sent) must say same-origin, and an Origin
 * (when sent) must be this listener's. SameSite=Strict already keeps the
 * cookie off cross-site requests; these checks hold even where it does not.
 */
export function refuseCrossSite(headers: IncomingHttpHeaders): void {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new LatchkeyError('csrf_refused', `a console request must come from the console (Sec-Fetch-Site: ${String(site)})`);
  const origin = headers.origin;
  if (origin !== undefined && originHost(origin) !== headers.host) {
    throw new LatchkeyError('csrf_refused', 'a console request must come from the console (Origin differs)');
  }
}

/**
 * The host of an Origin header. Its scheme is not compared: behind a proxy
 * that terminates TLS the page is https while this listener sees http, and a
 * page of the same host under the other scheme is the same site anyway.
 */
function originHost(origin: string): string | undefined {
  if (!/^https?:\/\//.test(origin)) return undefined;
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** A new session for a token just admitted; ends no later than the token does. */
  open(tokenId: string, tokenName: string, tokenExpiresAt: number): { id: string; session: ConsoleSession } {
    const now = this.#now();
    this.#sweep(now);
    if (this.#sessions.size >= MAX_SESSIONS) throw new LatchkeyError('rate_limited', 'too many console sessions are open');
    const id = randomId();
    const session = { tokenId, tokenName, csrf: randomId(), expiresAt: Math.min(tokenExpiresAt, now + SESSION_MAX_MS) };
    this.#sessions.set(id, session);
    return { id, session };
  }

  /** The live session the cookie names, or undefined (unknown, ended or expired). */
  find(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** The session of a cookie-authenticated API call: it must carry the session's CSRF token. */
  authorize(id: string | undefined, csrfHeader: string | string[] | undefined): ConsoleSession {
    const session = this.find(id);
    if (session === undefined) throw new LatchkeyError('token_missing', 'the console session has ended: sign in again');
    if (typeof csrfHeader !== 'string' || !sameSecret(csrfHeader, session.csrf)) {
      throw new LatchkeyError('csrf_refused', `a console request must carry the session's ${CSRF_HEADER} header`);
    }
    return session;
  }

  close(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #sweep(now: number): void {
    for (const [id, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(id);
  }
}

export function sessionCookie(id: string, expiresAt: number, secure: boolean, now: number): string {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
