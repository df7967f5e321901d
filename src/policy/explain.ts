// Why a request was denied when no permission matched: the allow of the same
// service that came closest, and what kept it from matching. Runs only when a
// default denial's explanation is read, never on the allow path, and reads
// the compiled rules, never a permission string.

import type { EnvRule, HttpAllow, NameRule, TableRule } from './compiled-rules.js';
import type { NearestAllow } from './decisions.js';
import { actionsOf } from './grammar.js';
import { encodeSegment } from './normalize-path.js';
import { ANY, matchedPrefix, matchesSequence } from './pattern-algebra.js';
import { pathPatternText } from './resource-syntax.js';
import type { Permission } from './types.js';

interface Candidate<Rule> {
  readonly rule: Rule;
  readonly permission: Permission;
  /** The permission's action covers the request's. */
  readonly actionFits: boolean;
  /** The permission's resource matches the request's. */
  readonly resourceFits: boolean;
  /**
   * How specifically the resource met the request: literal tokens matched from
   * the start, plus one for a full match by a pattern without wildcards.
   */
  readonly closeness: number;
}

function rankOf(candidate: Candidate<unknown>): readonly number[] {
  return [candidate.actionFits || candidate.resourceFits ? 1 : 0, candidate.closeness, candidate.actionFits ? 1 : 0];
}

/**
 * The nearest allow: one that fits in action or in resource before one that
 * fits in neither; then the most specific resource match; then the right
 * action over the right resource; then the earlier permission.
 */
function pickNearest<Rule>(candidates: readonly Candidate<Rule>[]): Candidate<Rule> | undefined {
  let best: Candidate<Rule> | undefined;
  let bestRank: readonly number[] = [];
  for (const candidate of candidates) {
    const rank = rankOf(candidate);
    const differs = rank.findIndex((value, at) => value !== bestRank[at]);
    if (best === undefined || (differs >= 0 && (rank[differs] as number) > (bestRank[differs] as number))) {
      best = candidate;
      bestRank = rank;
    }
  }
  return best;
}

function actionFits(permission: Permission, action: string): boolean {
  return actionsOf(permission.kind, permission.action)?.includes(action) === true;
}

interface Wording<Rule> {
  /** The request in words: `GET /v1/orders/7`, `select on public.orders`. */
  readonly request: string;
  readonly action: string;
  /** Why the rule's resource does not match the request's. */
  readonly mismatch: (rule: Rule) => string;
  /** When the service has no allow at all. */
  readonly noAllow: string;
}

function explainNearest<Rule>(candidates: readonly Candidate<Rule>[], wording: Wording<Rule>): NearestAllow {
  const candidate = pickNearest(candidates);
  if (candidate === undefined) return { nearest: null, explanation: wording.noAllow };
  const { permission, rule } = candidate;
  const grants = (actionsOf(permission.kind, permission.action) ?? []).join(', ');
  const wrongAction = `${permission.text} grants ${grants}, not ${wording.action}`;
  let explanation: string;
  if (candidate.resourceFits) explanation = `${wording.request}: ${wrongAction}`;
  else if (candidate.actionFits) explanation = `${wording.mismatch(rule)} (nearest allow: ${permission.text})`;
  else explanation = `${wording.mismatch(rule)}, and ${wrongAction}`;
  return { nearest: permission.text, explanation };
}

export function explainHttp(allows: readonly HttpAllow[], service: string, method: string, segments: readonly string[]): NearestAllow {
  const request = `${method} /${segments.map(encodeSegment).join('/')}`;
  const candidates = allows.map((rule): Candidate<HttpAllow> => {
    const resourceFits = matchesSequence(rule.pattern, segments);
    const exact = resourceFits && !rule.pattern.includes(ANY);
    const closeness = matchedPrefix(rule.pattern, segments) + (exact ? 1 : 0);
    return { rule, permission: rule.permission, actionFits: actionFits(rule.permission, method), resourceFits, closeness };
  });
  const mismatch = ({ pattern }: HttpAllow): string => {
    // `/v1/items/**` reads best as a subtree; anything else as a pattern.
    const subtree = pattern.length > 0 && pattern.indexOf(ANY) === pattern.length - 1;
    return `${request} ${subtree ? 'is not under' : 'does not match'} ${pathPatternText(pattern)}`;
  };
  return explainNearest(candidates, { request, action: method, mismatch, noAllow: `no permission allows http service ${service}` });
}

/** Literal characters shared at the start, plus one for a full match without wildcards. */
function globCloseness(glob: string, name: string, fits: boolean): number {
  let count = 0;
  while (count < glob.length && count < name.length && glob[count] === name[count] && glob[count] !== '*') count++;
  return count + (fits && !glob.includes('*') ? 1 : 0);
}

export function explainPostgres(allows: readonly TableRule[], service: string, action: string, schema: string, table: string): NearestAllow {
  const target = `${schema}.${table}`;
  const request = `${action} on ${target}`;
  const candidates = allows.map((rule): Candidate<TableRule> => {
    const resourceFits = rule.schema(schema) && rule.table(table);
    return { rule, permission: rule.permission, actionFits: actionFits(rule.permission, action), resourceFits, closeness: globCloseness(rule.glob, target, resourceFits) };
  });
  const mismatch = (rule: TableRule): string => `${request}: ${target} does not match ${rule.glob}`;
  return explainNearest(candidates, { request, action, mismatch, noAllow: `no permission allows postgres service ${service}` });
}

export function explainMcp(allows: readonly NameRule[], service: string, action: string, name: string): NearestAllow {
  const request = `${action} ${name}`;
  const candidates = allows.map((rule): Candidate<NameRule> => {
    const resourceFits = rule.name(name);
    return { rule, permission: rule.permission, actionFits: actionFits(rule.permission, action), resourceFits, closeness: globCloseness(rule.glob, name, resourceFits) };
  });
  const mismatch = (rule: NameRule): string => `${request}: ${name} does not match ${rule.glob}`;
  return explainNearest(candidates, { request, action, mismatch, noAllow: `no permission allows mcp service ${service}` });
}

export function explainAdmin(allows: readonly EnvRule[], action: string, env: string | undefined): NearestAllow {
  const request = env === undefined ? action : `${action} in ${env}`;
  const candidates = allows.map((rule): Candidate<EnvRule> => ({
    rule,
    permission: rule.permission,
    actionFits: actionFits(rule.permission, action),
    resourceFits: rule.env === undefined || rule.env === env,
    closeness: rule.env !== undefined && rule.env === env ? 1 : 0,
  }));
  const mismatch = (rule: EnvRule): string =>
    env === undefined
      ? `${request} is not scoped to an environment, and ${rule.permission.text} is limited to environment ${rule.env}`
      : `${request}: ${rule.permission.text} is limited to environment ${rule.env}`;
  return explainNearest(candidates, { request, action, mismatch, noAllow: 'no permission allows the admin API (latchkey)' });
}
