import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { Actor } from '../store/records.js';
import type { AdminAction } from '../policy/admin-actions.js';
import type { Principal } from './principal.js';
import type { AdminContext } from './context.js';

// One table of routes drives everything: the Fastify registrations, the
// permission each route demands, and the OpenAPI document. A route cannot be
// served without a declared permission.

export interface RouteInput<B = unknown, Q = unknown> {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Q;
  readonly body: B;
  readonly principal: Principal;
  /** Who acts: the principal's token, or the party an `ownAuthentication` route verified. */
  readonly actor: Actor;
}

/**
 * A caller that is not a Latchkey token (GitHub's secret scanning) proves
 * itself over the raw body, before the body is parsed. On such a route no
 * `principal` is set and `action` names what the route does, not a permission it checks.
 */
export interface OwnAuthentication {
  /** Shown in the OpenAPI document instead of a permission. */
  readonly scheme: string;
  /** Throws a LatchkeyError (401) when the request does not prove itself. */
  readonly verify: (rawBody: Buffer, headers: IncomingHttpHeaders, context: AdminContext) => Actor | Promise<Actor>;
}

export interface AdminRoute<B = unknown, Q = unknown> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI form: `/v1/tokens/{id}`. */
  readonly path: string;
  readonly action: AdminAction;
  readonly summary: string;
  readonly tag: string;
  readonly body?: z.ZodType<B>;
  readonly query?: z.ZodType<Q>;
  readonly status: 200 | 201 | 204;
  readonly ownAuthentication?: OwnAuthentication;
  /**
   * Answers only about the calling token itself (`latchkey status`, as `gh auth status`):
   * any valid token may call it, whatever its permissions; `action` is then not checked.
   */
  readonly selfOnly?: true;
  /**
   * The environment the action touches, for permissions scoped to one
   * (`latchkey:tokens.create:dev`). Undefined: the action is not environment-scoped.
   */
  readonly envOf?: (input: Omit<RouteInput<B, Q>, 'principal' | 'actor'>, context: AdminContext) => Promise<string | undefined> | string | undefined;
  readonly handle: (input: RouteInput<B, Q>, context: AdminContext) => Promise<unknown>;
}

/** Keeps the body and query types of each route while the table holds them all. */
export function route<B = undefined, Q = undefined>(definition: AdminRoute<B, Q>): AdminRoute {
  return definition as unknown as AdminRoute;
}

/** A handler's answer that is not JSON: an export streamed as it is read. */
export class RawResponse {
  constructor(
    readonly contentType: string,
    readonly body: NodeJS.ReadableStream | string,
  ) {}
}
