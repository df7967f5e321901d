// The contract of the permission engine, used by the admin API, the gateways
// and the CLI. Permission strings are parsed once at the edge; everything after
// works on Permission values and CompiledGrant matchers.

import type { PathMatching } from './path-matching.js';

export type PolicyServiceKind = 'http' | 'postgres' | 'mcp' | 'latchkey';

/** Knows the kind of each service, so permissions can be validated against it. */
export interface ServiceCatalog {
  kindOf(service: string): PolicyServiceKind | undefined;
  /**
   * How the service's upstream matches paths, so its permissions compile folded the same way
   * as its requests. Absent (or undefined for a service): `exact`. A grant compiled for one
   * profile refuses requests folded for another, so a catalog that does not know fails closed.
   */
  pathMatchingOf?(service: string): PathMatching | undefined;
}

export interface Permission {
  readonly effect: 'allow' | 'deny';
  readonly service: string;
  readonly kind: PolicyServiceKind;
  /** As written (`GET`, `read`, `select`, `call`, `tokens.create`, `*`). */
  readonly action: string;
  /** Undefined means every resource of the action. */
  readonly resource: string | undefined;
  /** Canonical text, `!` included for denies. */
  readonly text: string;
}

/**
 * A default denial (nothing matched) computes `nearest` and `explanation` on
 * first read, as getters: copy fields by name or use JSON, do not spread it
 * (`plainDecision` gives a plain copy).
 */
export interface Decision {
  readonly allowed: boolean;
  readonly reason: 'allowed' | 'permission_denied';
  /** The permission that decided: the allow that matched, or the deny that matched. */
  readonly matched: string | null;
  /** For a denial with no matching deny: the closest allow, and why it did not match. */
  readonly nearest: string | null;
  readonly explanation: string;
  /** For an mcp tool call refused on its arguments: the argument that decided. */
  readonly argument?: string;
}

export interface CompiledGrant {
  readonly permissions: readonly Permission[];
  /**
   * `segments` are the normalized path's segments, already percent-decoded and folded
   * for the service's path matching (foldRequestSegments), which `matching` names
   * (default `exact`). A grant compiled for another profile of the service denies.
   */
  decideHttp(service: string, method: string, segments: readonly string[], matching?: PathMatching): Decision;
  decidePostgres(service: string, action: string, schema: string, table: string): Decision;
  /** `args`: a tool call's top-level arguments, checked against the argument constraints of the tool's permissions. */
  decideMcp(service: string, action: 'call' | 'read' | 'get', name: string, args?: Readonly<Record<string, unknown>>): Decision;
  /**
   * Whether a list shows this tool, resource or prompt: some allow names it (whatever its argument
   * constraints) and no deny without constraints does. Visibility only; every call is still decided.
   */
  visibleMcp(service: string, action: 'call' | 'read' | 'get', name: string): boolean;
  /** The admin API: `tokens.create` and friends, optionally scoped to one environment. */
  decideAdmin(action: string, env: string | undefined): Decision;
}

/**
 * `path` is the canonical spelling the gateway matches and forwards; `segments`
 * are decoded. A trailing `/` stays in `path` but is not a segment (`/a/` and
 * `/a` are the same resource to the permission engine); `/` has no segments.
 */
export type NormalizedPath =
  | { readonly ok: true; readonly path: string; readonly segments: readonly string[] }
  | { readonly ok: false; readonly detail: string };
