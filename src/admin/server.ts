import { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { LatchkeyError } from '../errors/index.js';
import { authorizeAnyEnv, authorizeEnv } from './authorize.js';
import type { AdminContext } from './context.js';
import { parseInput } from './input.js';
import { refuseSecretsIn, upstreamSecrets } from './upstream-secrets.js';
import { buildOpenApi } from './openapi.js';
import { authenticate, type Principal } from './principal.js';
import { RawResponse, type AdminRoute } from './route.js';
import { ADMIN_API_HEADER } from './api-header.js';
import { LATCHKEY_VERSION } from '../config/version.js';
import type { Actor } from '../store/records.js';
import { auditRoutes } from './routes/audit.js';
import { checkRoutes } from './routes/check.js';
import { environmentRoutes } from './routes/environments.js';
import { leakRoutes } from './routes/leaks.js';
import { roleRoutes } from './routes/roles.js';
import { serviceRoutes } from './routes/services.js';
import { tokenRoutes } from './routes/tokens.js';
import { reportRoutes } from './routes/reports.js';
import { selfRoutes } from './routes/self.js';
import { ConsoleSessions, consolePrincipal, registerConsole } from '../console/index.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export const CORE_ROUTES: readonly AdminRoute[] = [...environmentRoutes, ...serviceRoutes, ...roleRoutes, ...tokenRoutes, ...checkRoutes, ...auditRoutes, ...leakRoutes, ...selfRoutes, ...reportRoutes];

export interface AdminServerOptions {
  readonly context: AdminContext;
  readonly metrics?: Registry;
  /** Routes contributed by other parts (audit, console) — same table, same guard. */
  readonly extraRoutes?: readonly AdminRoute[];
  readonly version?: string;
  /** The web console's sessions; a new, empty set by default. */
  readonly consoleSessions?: ConsoleSessions;
}

declare module 'fastify' {
  interface FastifyInstance {
    servedRoutes: ReadonlyArray<{ method: string; url: string }>;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Set by a route's own authentication (see OwnAuthentication). */
    verifiedActor: Actor | null;
  }
  interface FastifyContextConfig {
    adminRoute?: AdminRoute;
  }
}

function sendError(reply: FastifyReply, err: LatchkeyError): FastifyReply {
  const body: Record<string, string> = { error: err.code, message: err.message };
  if (err.field !== undefined) body.field = err.field;
  return reply.code(err.status).type('application/json').send(body);
}

/** Fastify's own failures (body parsing, limits) in Latchkey's vocabulary. */
function translate(err: FastifyError): LatchkeyError {
  if (err instanceof LatchkeyError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LatchkeyError('body_too_large', `the body exceeds ${BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new LatchkeyError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new LatchkeyError('invalid_request', 'body: empty JSON body', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new LatchkeyError('invalid_request', 'body: malformed JSON', { field: 'body' });
    default:
      if (err.statusCode === 400 || err instanceof SyntaxError) return new LatchkeyError('invalid_request', 'body: malformed JSON', { field: 'body' });
      return new LatchkeyError('internal_error');
  }
}

/** Reads the raw body (within the body limit), verifies it, then hands the same bytes to the JSON parser. */
function ownAuthentication(route: AdminRoute, context: AdminContext) {
  return async (request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of payload) {
      size += (chunk as Buffer).length;
      if (size > BODY_LIMIT_BYTES) throw new LatchkeyError('body_too_large', `the body exceeds ${BODY_LIMIT_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    request.verifiedActor = await route.ownAuthentication!.verify(raw, request.headers, context);
    return Readable.from([raw]);
  };
}

export type AdminServer = Awaited<ReturnType<typeof buildAdminServer>>;

export async function buildAdminServer(options: AdminServerOptions) {
  const { context } = options;
  const routes = [...CORE_ROUTES, ...(options.extraRoutes ?? [])];
  const openapi = buildOpenApi(routes, options.version ?? '0.1.0');
  const app = Fastify({
    loggerInstance: context.logger,
    // One line per admin request comes from our onResponse hook, with the actor and without the query.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
  });
  const sessions = options.consoleSessions ?? new ConsoleSessions(context.now);
  app.decorateRequest('principal', null);
  app.decorateRequest('verifiedActor', null);
  // What Fastify actually serves, so a test can hold it against the OpenAPI document.
  const served: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (options) => {
    for (const method of [options.method].flat()) served.push({ method: String(method), url: options.url });
  });
  app.decorate('servedRoutes', served);

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const translated = translate(err);
    if (translated.code === 'internal_error') request.log.error({ err }, 'admin request failed');
    return sendError(reply, translated);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, new LatchkeyError('not_found', 'no such route')));

  // Tells the command line it reached the admin API, and not a gateway listener given as --url by mistake.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header(ADMIN_API_HEADER, 'admin');
  });
  // Authentication first, before the body is read: an anonymous client gets 401 and nothing else.
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const route = request.routeOptions.config.adminRoute;
    if (route === undefined || route.ownAuthentication !== undefined) return;
    // The web console's calls carry its session cookie (and CSRF token) instead of a bearer token.
    const viaConsole = await consolePrincipal(request, sessions, context);
    if (viaConsole !== undefined) {
      request.principal = viaConsole;
      return;
    }
    request.principal = await authenticate(context.store, context.hasher, request.headers.authorization, request.ip, context.now(), context.logger, context.alerts, { method: request.method, path: request.url, headers: request.headers });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.config.adminRoute;
    if (route === undefined) return;
    request.log.info({ method: request.method, route: route.path, status: reply.statusCode, actor: request.principal?.actor.name ?? null }, 'admin request');
  });

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path.replace(/\{([a-z]+)\}/g, ':$1'),
      config: { adminRoute: route },
      ...(route.ownAuthentication !== undefined && { preParsing: ownAuthentication(route, context) }),
      handler: async (request, reply) => {
        const principal = request.principal!;
        const own = route.ownAuthentication !== undefined;
        const checked = !own && route.selfOnly !== true;
        if (checked) authorizeAnyEnv(principal, route.action);
        const params = request.params as Record<string, string>;
        const query = route.query === undefined ? undefined : parseInput(route.query, request.query ?? {}, 'query');
        if (route.body === undefined && request.body !== undefined && request.body !== null) {
          throw new LatchkeyError('invalid_request', 'body: this route takes no body', { field: 'body' });
        }
        // Before parsing, so that not even an error message can echo an upstream credential back.
        if (route.body !== undefined) refuseSecretsIn(request.body, await upstreamSecrets(context));
        const body = route.body === undefined ? undefined : parseInput(route.body, request.body, 'body');
        const env = route.envOf === undefined ? undefined : await route.envOf({ params, query, body }, context);
        if (checked) authorizeEnv(principal, route.action, env);
        const actor = own ? request.verifiedActor! : principal.actor;
        const result = await route.handle({ params, query, body, principal, actor }, context);
        reply.code(route.status);
        if (result instanceof RawResponse) return reply.type(result.contentType).send(result.body);
        return route.status === 204 ? reply.send() : result;
      },
    });
  }

  app.get('/v1/openapi.json', async () => openapi);
  registerConsole(app, { context, sessions });
  app.get('/healthz', async () => ({ ok: true, version: LATCHKEY_VERSION }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await context.store.ping();
      return { ok: true };
    } catch {
      return sendError(reply, new LatchkeyError('store_unavailable'));
    }
  });
  if (options.metrics !== undefined) {
    const registry = options.metrics;
    app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
  return app;
}
