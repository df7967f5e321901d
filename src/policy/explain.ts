// Why a request was denied when no permission matched: the allow of the same
// service that came closest, and what kept it from matching. Runs only when a
// default denial's explanation is read, never on the allow path.

import type { NearestAllow } from './decisions.js';
import { actionsOf } from './grammar.js';
import { compileGlob } from './name-glob.js';
import { encodeSegment } from './normalize-path.js';
import { ANY, matchedPrefix, matchesSequence } from './pattern-algebra.js';
import { httpPattern, namePattern, pathPatternText, tablePattern } from './resource-syntax.js';
import type { Permission } from './types.js';

interface Candidate {
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

/**
 * The nearest allow: one that fits in action or in resource before one that
 * fits in neither; then the most specific resource match; then the right
 * action over the right resource; then the earlier permission.
 */
function pickNearest(candidates: readonly Candidate[]): Candidate | undefined {
  const key = (candidate: Candidate): readonly number[] => [
    candidate.actionFits || candidate.resourceFits ? 1 : 0,
    candidate.closeness,
    candidate.actionFits ? 1 : 0,
  ];
  let best: Candidate | undefined;
  let bestKey: readonly number[] = [];
  for (const candidate of candidates) {
    const candidateKey = key(candidate);
    const index = candidateKey.findIndex((value, at) => value !== bestKey[at]);
    if (best === undefined || (index >= 0 && (candidateKey[index] as number) > (bestKey[index] as number))) {
      best = candidate;
      bestKey = candidateKey;
    }
  }
  return best;
}

function grants(permission: Permission): string {
  return (actionsOf(permission.kind, permission.action) ?? []).join(', ');
}

/** Puts the candidate's verdict in words; `request` reads like `GET /v1/orders/7`. */
function explainNearest(candidate: Candidate | undefined, request: string, action: string, resourceMismatch: (permission: Permission) => string, noAllow: string): NearestAllow {
  if (candidate === undefined) return { nearest: null, explanation: noAllow };
  const { permission } = candidate;
  const wrongAction = `${permission.text} grants ${grants(permission)}, not ${action}`;
  let explanation: string;
  if (candidate.resourceFits) explanation = `${request}: ${wrongAction}`;
  else if (candidate.actionFits) explanation = `${resourceMismatch(permission)} (nearest allow: ${permission.text})`;
  else explanation = `${resourceMismatch(permission)}, and ${wrongAction}`;
  return { nearest: permission.text, explanation };
}

function actionFits(permission: Permission, action: string): boolean {
  return actionsOf(permission.kind, permission.action)?.includes(action) === true;
}

export function explainHttp(allows: readonly Permission[], service: string, method: string, segments: readonly string[]): NearestAllow {
  const path = `/${segments.map(encodeSegment).join('/')}`;
  const request = `${method} ${path}`;
  const candidates = allows.map((permission): Candidate => {
    const pattern = httpPattern(permission.resource);
    const resourceFits = matchesSequence(pattern, segments);
    const exact = resourceFits && !pattern.includes(ANY);
    return { permission, actionFits: actionFits(permission, method), resourceFits, closeness: matchedPrefix(pattern, segments) + (exact ? 1 : 0) };
  });
  const mismatch = (permission: Permission): string => {
    const pattern = httpPattern(permission.resource);
    const text = pathPatternText(pattern);
    return pattern.length > 0 && pattern[pattern.length - 1] === ANY && !pattern.slice(0, -1).includes(ANY)
      ? `${request} is not under ${text}`
      : `${request} does not match ${text}`;
  };
  return explainNearest(pickNearest(candidates), request, method, mismatch, `no permission allows http service ${service}`);
}

/** Literal characters shared at the start, plus one for a full match without wildcards. */
function globCloseness(glob: string, name: string, fits: boolean): number {
  let count = 0;
  while (count < glob.length && count < name.length && glob[count] === name[count] && glob[count] !== '*') count++;
  return count + (fits && !glob.includes('*') ? 1 : 0);
}

export function explainPostgres(allows: readonly Permission[], service: string, action: string, schema: string, table: string): NearestAllow {
  const target = `${schema}.${table}`;
  const candidates = allows.map((permission): Candidate => {
    const pattern = tablePattern(permission.resource);
    const glob = `${pattern.schema}.${pattern.table}`;
    const resourceFits = compileGlob(pattern.schema)(schema) && compileGlob(pattern.table)(table);
    return { permission, actionFits: actionFits(permission, action), resourceFits, closeness: globCloseness(glob, target, resourceFits) };
  });
  const mismatch = (permission: Permission): string => {
    const pattern = tablePattern(permission.resource);
    return `${action} on ${target}: ${target} does not match ${pattern.schema}.${pattern.table}`;
  };
  return explainNearest(pickNearest(candidates), `${action} on ${target}`, action, mismatch, `no permission allows postgres service ${service}`);
}

export function explainMcp(allows: readonly Permission[], service: string, action: string, name: string): NearestAllow {
  const candidates = allows.map((permission): Candidate => {
    const glob = namePattern(permission.resource);
    const resourceFits = compileGlob(glob)(name);
    return { permission, actionFits: actionFits(permission, action), resourceFits, closeness: globCloseness(glob, name, resourceFits) };
  });
  const mismatch = (permission: Permission): string => `${action} ${name}: ${name} does not match ${namePattern(permission.resource)}`;
  return explainNearest(pickNearest(candidates), `${action} ${name}`, action, mismatch, `no permission allows mcp service ${service}`);
}

export function explainAdmin(allows: readonly Permission[], action: string, env: string | undefined): NearestAllow {
  const request = env === undefined ? action : `${action} in ${env}`;
  const candidates = allows.map((permission): Candidate => ({
    permission,
    actionFits: actionFits(permission, action),
    resourceFits: permission.resource === undefined || permission.resource === env,
    closeness: permission.resource !== undefined && permission.resource === env ? 1 : 0,
  }));
  const mismatch = (permission: Permission): string =>
    env === undefined
      ? `${request} is not scoped to an environment, and ${permission.text} is limited to environment ${permission.resource}`
      : `${request}: ${permission.text} is limited to environment ${permission.resource}`;
  return explainNearest(pickNearest(candidates), request, action, mismatch, 'no permission allows the admin API (latchkey)');
}
