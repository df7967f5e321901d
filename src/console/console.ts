import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { LatchkeyError } from '../errors/index.js';
import type { AdminContext } from '../admin/context.js';
import { authenticate, authenticateById, type Principal } from '../admin/principal.js';
import { auditRead } from '../admin/token-audit.js';
import { streamLive } from './live.js';
import { loadAssets, SECURITY_HEADERS, type Asset } from './static.js';
import { clearedCookie, type ConsoleSession, ConsoleSessions, CSRF_HEADER, cookieValue, refuseCrossSite, SESSION_COOKIE, sessionCookie } from './sessions.js';

export interface ConsoleOptions {
  readonly context: AdminContext;
  readonly sessions: ConsoleSessions;
  /** Defaults to the build output (dist/web); a test may point elsewhere. */
  readonly assets?: Map<string, Asset>;
}

const signInBody = z.strictObject({ token: z.string().min(1).max(128) });

const isSecure = (request: FastifyRequest) => request.protocol === 'https';

/** What the page learns about its session: never the admin token, only who it acts as and its CSRF token. */
function sessionAnswer(session: ConsoleSession, principal: Principal) {
  return { signedIn: true, csrf: session.csrf, expiresAt: new Date(session.expiresAt).toISOString(), actor: principal.actor, env: principal.record.env };
}

function sendAsset(reply: FastifyReply, asset: Asset): FastifyReply {
  reply.headers(SECURITY_HEADERS);
  reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-store');
  return reply.type(asset.type).send(asset.body);
}

/**
 * The principal of an admin API call that rides on a console session cookie
 * (no Authorization header): same-origin, with the session's CSRF token, its
 * admin token admitted afresh. Undefined when the call carries no cookie.
 */
export async function consolePrincipal(request: FastifyRequest, sessions: ConsoleSessions, context: AdminContext): Promise<Principal | undefined> {
  if (request.headers.authorization !== undefined) return undefined;
  const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
  if (id === undefined) return undefined;
  refuseCrossSite(request.headers);
  const session = sessions.authorize(id, request.headers[CSRF_HEADER]);
  return authenticateById(context.store, session.tokenId, request.ip, context.now(), context.logger);
}

/** Any Fastify app on a plain Node server, whatever its logger type. */
type AdminApp<L extends FastifyBaseLogger> = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>;

export function registerConsole<L extends FastifyBaseLogger>(app: AdminApp<L>, options: ConsoleOptions): void {
  const { context, sessions } = options;
  const assets = options.assets ?? loadAssets();
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const finish of [...streams]) finish();
  });

  app.get('/', async (_request, reply) => {
    const index = assets.get('/index.html');
    if (index === undefined) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The web console is not built: run `npm run build`.\n');
    }
    return sendAsset(reply, index);
  });
  app.get('/assets/*', async (request, reply) => {
    const asset = assets.get(request.url.split('?')[0]!);
    if (asset === undefined) throw new LatchkeyError('not_found', 'no such console asset');
    return sendAsset(reply, asset);
  });
  // Browsers ask for /favicon.ico on any page of this origin, the API's JSON answers included.
  const icon = assets.get('/favicon.svg');
  if (icon !== undefined) app.get('/favicon.ico', async (_request, reply) => sendAsset(reply, icon));
  for (const [path, asset] of assets) {
    if (path !== '/index.html' && !path.startsWith('/assets/')) app.get(path, async (_request, reply) => sendAsset(reply, asset));
  }

  // Before the body is parsed: a cross-site form is refused as such, not as a media type.
  const sameOrigin = { onRequest: async (request: FastifyRequest) => refuseCrossSite(request.headers) };

  // Sign in: the admin token is judged as the API judges a bearer token, and then forgotten.
  app.post('/console/session', sameOrigin, async (request, reply) => {
    if (request.headers.origin === undefined && request.headers['sec-fetch-site'] === undefined) {
      // Every browser sends one of the two on a fetch POST; their absence is not the console.
      throw new LatchkeyError('csrf_refused', 'a console sign-in must come from the console');
    }
    const parsed = signInBody.safeParse(request.body);
    if (!parsed.success) throw new LatchkeyError('invalid_request', 'body: expected {"token": "lk_..."}', { field: 'token' });
    const now = context.now();
    const principal = await authenticate(context.store, context.hasher, `Bearer ${parsed.data.token}`, request.ip, now, context.logger, context.alerts,
      { method: request.method, path: request.url, headers: request.headers });
    const { id, session } = sessions.open(principal.record.id, principal.record.name, principal.record.expiresAt);
    try {
      await auditRead(context.store, principal.actor, { action: 'console.signin', target: principal.record.id, before: null, after: { client: request.ip, until: session.expiresAt } }, now);
    } catch (err) {
      // No session that the audit trail does not know of.
      sessions.close(id);
      throw err;
    }
    reply.header('set-cookie', sessionCookie(id, session.expiresAt, isSecure(request), now));
    reply.header('cache-control', 'no-store');
    return sessionAnswer(session, principal);
  });

  // After a reload: the page has lost its CSRF token (kept only in memory) and asks for it again.
  app.get('/console/session', sameOrigin, async (request, reply) => {
    const session = sessions.find(cookieValue(request.headers.cookie, SESSION_COOKIE));
    reply.header('cache-control', 'no-store');
    // Not signed in is an answer, not an error: the page shows the sign-in form.
    if (session === undefined) return { signedIn: false };
    const principal = await authenticateById(context.store, session.tokenId, request.ip, context.now(), context.logger).catch(() => undefined);
    if (principal === undefined) return { signedIn: false };
    return sessionAnswer(session, principal);
  });

  app.delete('/console/session', sameOrigin, async (request, reply) => {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = sessions.authorize(id, request.headers[CSRF_HEADER]);
    sessions.close(id);
    // Signed out whatever the audit trail says: ending a session is never refused.
    await auditRead(context.store, { tokenId: session.tokenId, name: session.tokenName }, { action: 'console.signout', target: session.tokenId, before: null, after: { client: request.ip } }, context.now())
      .catch((err: unknown) => request.log.error({ err }, 'the console sign-out could not be written to the audit trail'));
    reply.header('set-cookie', clearedCookie(isSecure(request)));
    return reply.code(204).send();
  });

  // Server-sent events cannot carry a header, so the live feed (a read) rests on the cookie and same-origin checks.
  app.get('/console/live', sameOrigin, async (request, reply) => {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const session = sessions.find(id);
    if (session === undefined) throw new LatchkeyError('token_missing', 'no console session: sign in');
    const admit = () => authenticateById(context.store, session.tokenId, request.ip, context.now(), context.logger);
    const principal = await admit();
    // Re-judged on every poll: sign-out, or the token's revocation or expiry, ends the stream.
    const stillSignedIn = async () => sessions.find(id) !== undefined && (await admit().then(() => true, () => false));
    await streamLive(request, reply, { context, principal, stillSignedIn, open: streams });
  });
}
