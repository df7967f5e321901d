// The compiler: a token's permissions become, per service and per concrete
// action, the matchers the gateways query on every request. Allows and denies
// are kept apart so a matching deny is found first and always wins. The hot
// path looks up maps and walks tries; it never reads a permission string.

import { allowDecision, DefaultDenial, denyDecision, plainDenial } from './decisions.js';
import { explainAdmin, explainHttp, explainMcp, explainPostgres } from './explain.js';
import { invalid } from '../errors/index.js';
import { ADMIN_SERVICE } from './admin-actions.js';
import { actionIndex, actionsOf, concreteActions, HTTP_METHODS } from './grammar.js';
import type { EnvRule, HttpAllow, NameRule, TableRule } from './compiled-rules.js';
import { compileGlob } from './name-glob.js';
import { PathTrie } from './path-trie.js';
import { adminScope, canonicalResource, httpPattern, PermissionSyntaxError, tablePattern, toolPattern } from './resource-syntax.js';
import { compileConstraints, denyConstraintsHold, failedConstraint } from './argument-constraints.js';
import { foldPattern, type PathMatching } from './path-matching.js';
import type { CompiledGrant, Decision, Permission, PolicyServiceKind, ServiceCatalog } from './types.js';

interface HttpRules {
  /** The service's path matching these tries were folded for. */
  readonly matching: PathMatching;
  /** Indexed like HTTP_METHODS; null when no pattern of that effect grants the method. */
  readonly allow: (PathTrie | null)[];
  readonly deny: (PathTrie | null)[];
  readonly allows: HttpAllow[];
}

/** Rules of one service for a kind other than http, indexed by concrete action. */
interface ActionRules<Rule> {
  readonly allow: Rule[][];
  readonly deny: Rule[][];
  readonly allows: Rule[];
}

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'OPTIONS':
      return 2;
    case 'POST':
      return 3;
    case 'PUT':
      return 4;
    case 'PATCH':
      return 5;
    case 'DELETE':
      return 6;
    default:
      return -1;
  }
}

function decisionOf(permission: Permission): Decision {
  return permission.effect === 'allow' ? allowDecision(permission) : denyDecision(permission);
}

/** The concrete actions of a permission as indexes into its kind's action list. */
function actionIndexes(permission: Permission): number[] {
  return (actionsOf(permission.kind, permission.action) ?? []).map((action) => actionIndex(permission.kind, action));
}

/**
 * Permissions normally come from the parser, but a hand-made one must not be
 * half-compiled: a deny silently dropped would widen the grant.
 */
function checkPermission(permission: Permission, index: number): void {
  const field = `permissions[${index}]`;
  if (actionsOf(permission.kind, permission.action) === undefined) throw invalid(field, `action ${permission.action} is not valid for kind ${permission.kind}`);
  if ((permission.kind === 'latchkey') !== (permission.service === ADMIN_SERVICE)) throw invalid(field, `only service ${ADMIN_SERVICE} has kind latchkey`);
  if (permission.effect !== 'allow' && permission.effect !== 'deny') throw invalid(field, 'effect must be allow or deny');
  try {
    if (permission.resource !== undefined) canonicalResource(permission.kind, permission.resource);
  } catch (error) {
    if (error instanceof PermissionSyntaxError) throw invalid(field, error.message);
    throw error;
  }
}

function buildHttp(permissions: readonly Permission[], catalog: PathCatalog | undefined): Map<string, HttpRules> {
  const services = new Map<string, HttpRules>();
  for (const permission of permissions) {
    if (permission.kind !== 'http') continue;
    let rules = services.get(permission.service);
    if (rules === undefined) {
      const matching = catalog?.pathMatchingOf?.(permission.service) ?? 'exact';
      rules = { matching, allow: HTTP_METHODS.map(() => null), deny: HTTP_METHODS.map(() => null), allows: [] };
      services.set(permission.service, rules);
    }
    const pattern = httpPattern(permission.resource);
    const decision = decisionOf(permission);
    const tries = permission.effect === 'allow' ? rules.allow : rules.deny;
    // Explanations keep the pattern as written; the tries hold it folded like the service's requests.
    if (permission.effect === 'allow') rules.allows.push({ permission, pattern });
    const folded = foldPattern(pattern, rules.matching);
    for (const index of actionIndexes(permission)) {
      const trie = (tries[index] ??= new PathTrie());
      for (const variant of folded) trie.add(variant, decision);
    }
  }
  return services;
}

/** What the compiler needs of a catalog: each service's path matching. */
export type PathCatalog = Pick<ServiceCatalog, 'pathMatchingOf'>;

function buildRules<Rule>(permissions: readonly Permission[], kind: PolicyServiceKind, ruleOf: (permission: Permission, decision: Decision) => Rule): Map<string, ActionRules<Rule>> {
  const services = new Map<string, ActionRules<Rule>>();
  const actionCount = concreteActions(kind).length;
  for (const permission of permissions) {
    if (permission.kind !== kind) continue;
    let rules = services.get(permission.service);
    if (rules === undefined) {
      const empty = (): Rule[][] => Array.from({ length: actionCount }, () => []);
      rules = { allow: empty(), deny: empty(), allows: [] };
      services.set(permission.service, rules);
    }
    const rule = ruleOf(permission, decisionOf(permission));
    const lists = permission.effect === 'allow' ? rules.allow : rules.deny;
    if (permission.effect === 'allow') rules.allows.push(rule);
    for (const index of actionIndexes(permission)) (lists[index] as Rule[]).push(rule);
  }
  return services;
}

const NOT_NORMALIZED = plainDenial('the path has an empty or dot segment: it was not normalized (normalizePath refuses such paths)');

/**
 * Segments must come from normalizePath. A caller that split a path itself
 * could pass `['admin', '']` for `/admin/` and slip past a deny on `/admin`:
 * fail closed instead.
 */
function looksNormalized(segments: readonly string[]): boolean {
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index];
    if (segment === '' || segment === '.' || segment === '..') return false;
  }
  return true;
}

function noService(kind: PolicyServiceKind, service: string): Decision {
  return plainDenial(`no permission of this grant covers ${kind} service ${service}`);
}

/** First rule of the list that matches, denies before allows, or null. */
function firstTable(rules: readonly TableRule[] | undefined, schema: string, table: string): Decision | null {
  if (rules === undefined) return null;
  for (const rule of rules) if (rule.schema(schema) && rule.table(table)) return rule.decision;
  return null;
}

function firstDenyName(rules: readonly NameRule[] | undefined, name: string, args: Readonly<Record<string, unknown>> | undefined): Decision | null {
  if (rules === undefined) return null;
  for (const rule of rules) if (rule.name(name) && denyConstraintsHold(rule.constraints, args)) return rule.decision;
  return null;
}

/** The first allow whose name and constraints hold; else a denial naming the argument an allow of the name refused, or null. */
function firstAllowName(rules: readonly NameRule[] | undefined, name: string, args: Readonly<Record<string, unknown>> | undefined): Decision | null {
  if (rules === undefined) return null;
  let refused: Decision | null = null;
  for (const rule of rules) {
    if (!rule.name(name)) continue;
    const failed = failedConstraint(rule.constraints, args);
    if (failed === null) return rule.decision;
    refused ??= argumentDenial(rule, failed.argument, args);
  }
  return refused;
}

function argumentDenial(rule: NameRule, argument: string, args: Readonly<Record<string, unknown>> | undefined): Decision {
  const value = args === undefined || !Object.hasOwn(args, argument) ? undefined : args[argument];
  const what = value === undefined ? 'is missing' : typeof value !== 'string' ? 'is not a string' : 'has a value outside';
  const globs = rule.constraints.find((c) => c.argument === argument)?.globs.join('|') ?? '';
  return Object.freeze({
    allowed: false,
    reason: 'permission_denied',
    matched: null,
    nearest: rule.permission.text,
    explanation: `argument ${argument} ${what} ${argument}=${globs} (nearest allow: ${rule.permission.text})`,
    argument,
  } as Decision);
}

function firstEnv(rules: readonly EnvRule[] | undefined, env: string | undefined): Decision | null {
  if (rules === undefined) return null;
  for (const rule of rules) if (rule.env === undefined || rule.env === env) return rule.decision;
  return null;
}

function firstDeny(rules: readonly EnvRule[] | undefined, env: string | undefined): Decision | null {
  if (rules === undefined) return null;
  for (const rule of rules) if (env === undefined || rule.env === undefined || rule.env === env) return rule.decision;
  return null;
}

class Grant implements CompiledGrant {
  readonly permissions: readonly Permission[];
  readonly #http: Map<string, HttpRules>;
  readonly #postgres: Map<string, ActionRules<TableRule>>;
  readonly #mcp: Map<string, ActionRules<NameRule>>;
  readonly #admin: ActionRules<EnvRule> | undefined;

  constructor(permissions: readonly Permission[], catalog: PathCatalog | undefined) {
    permissions.forEach(checkPermission);
    this.permissions = Object.freeze([...permissions]);
    this.#http = buildHttp(this.permissions, catalog);
    this.#postgres = buildRules(this.permissions, 'postgres', (permission, decision): TableRule => {
      const { schema, table } = tablePattern(permission.resource);
      return { permission, glob: `${schema}.${table}`, schema: compileGlob(schema), table: compileGlob(table), decision };
    });
    this.#mcp = buildRules(this.permissions, 'mcp', (permission, decision): NameRule => {
      const { name: glob, constraints } = toolPattern(permission.resource);
      return { permission, glob, name: compileGlob(glob), constraints: compileConstraints(constraints), decision };
    });
    this.#admin = buildRules(this.permissions, 'latchkey', (permission, decision): EnvRule => ({ permission, env: adminScope(permission.resource).env, decision })).get(ADMIN_SERVICE);
  }

  decideHttp(service: string, method: string, segments: readonly string[], matching: PathMatching = 'exact'): Decision {
    const rules = this.#http.get(service);
    if (rules === undefined) return noService('http', service);
    if (!looksNormalized(segments)) return NOT_NORMALIZED;
    // The service changed its path matching since this grant compiled: the patterns and the path are folded differently.
    if (matching !== rules.matching) return matchingChanged(service, rules.matching, matching);
    const index = methodIndex(method);
    if (index < 0) return plainDenial(`${method} is not a method any permission grants (only ${HTTP_METHODS.join(', ')})`);
    const deny = rules.deny[index];
    if (deny != null) {
      const found = deny.find(segments);
      if (found !== null) return found;
    }
    const allow = rules.allow[index];
    if (allow != null) {
      const found = allow.find(segments);
      if (found !== null) return found;
    }
    // A copy, so that the lazy explanation describes this request even if the caller reuses its array.
    const requested = segments.slice();
    return new DefaultDenial(() => explainHttp(rules.allows, service, method, requested));
  }

  decidePostgres(service: string, action: string, schema: string, table: string): Decision {
    const rules = this.#postgres.get(service);
    if (rules === undefined) return noService('postgres', service);
    const index = actionIndex('postgres', action);
    if (index < 0) return plainDenial(`${action} is not a postgres action (${concreteActions('postgres').join(', ')})`);
    const found = firstTable(rules.deny[index], schema, table) ?? firstTable(rules.allow[index], schema, table);
    return found ?? new DefaultDenial(() => explainPostgres(rules.allows, service, action, schema, table));
  }

  decideMcp(service: string, action: 'call' | 'read' | 'get', name: string, args?: Readonly<Record<string, unknown>>): Decision {
    const rules = this.#mcp.get(service);
    if (rules === undefined) return noService('mcp', service);
    const index = actionIndex('mcp', action);
    if (index < 0) return plainDenial(`${String(action)} is not an mcp action (call, read, get)`);
    const found = firstDenyName(rules.deny[index], name, args) ?? firstAllowName(rules.allow[index], name, args);
    return found ?? new DefaultDenial(() => explainMcp(rules.allows, service, action, name));
  }

  visibleMcp(service: string, action: 'call' | 'read' | 'get', name: string): boolean {
    const rules = this.#mcp.get(service);
    const index = actionIndex('mcp', action);
    if (rules === undefined || index < 0) return false;
    for (const rule of rules.deny[index] as NameRule[]) if (rule.constraints.length === 0 && rule.name(name)) return false;
    for (const rule of rules.allow[index] as NameRule[]) if (rule.name(name)) return true;
    return false;
  }

  decideAdmin(action: string, env: string | undefined): Decision {
    const rules = this.#admin;
    if (rules === undefined) return plainDenial('no permission of this grant covers the admin API (latchkey)');
    const index = actionIndex('latchkey', action);
    if (index < 0) return plainDenial(`${action} is not an admin API action`);
    // With no environment named, a deny scoped to any environment still applies: an action that
    // spans environments (listing every token, say) must not slip past `!latchkey:tokens.read:prod`.
    const found = firstDeny(rules.deny[index], env) ?? firstEnv(rules.allow[index], env);
    return found ?? new DefaultDenial(() => explainAdmin(rules.allows, action, env));
  }
}

function matchingChanged(service: string, compiled: PathMatching, requested: PathMatching): Decision {
  return plainDenial(`service ${service} matches paths ${requested}, but this grant was compiled for ${compiled}; it is recompiled on the next load`);
}

/**
 * Compiles a grant once; the result answers every decision for the token.
 * `catalog` gives each http service's path matching (default `exact` for all).
 */
export function compileGrant(permissions: readonly Permission[], catalog?: PathCatalog): CompiledGrant {
  return new Grant(permissions, catalog);
}
