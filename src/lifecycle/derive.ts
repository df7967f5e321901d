import { invalid } from '../errors/index.js';
import { isWithin, parsePermissions } from '../policy/index.js';
import type { Permission, ServiceCatalog } from '../policy/types.js';
import type { RateLimit, TokenRecord } from '../store/records.js';
import { cidrWithin, parseCidr } from './cidr.js';

// A child token is never wider than any token above it, in any dimension:
// permissions, expiry, not-before, client addresses, rate, remaining uses,
// environment. Each is checked against the whole ancestor chain, not only the
// parent, so a chain stays bounded even where an ancestor was later narrowed.
// What the holder leaves out is inherited from the tightest ancestor.

export const DEFAULT_MAX_DEPTH = 4;

/** One token above the child: the parent first, then its ancestors up to the root. */
export interface Ancestor {
  readonly record: TokenRecord;
  /** Its effective grant: its roles expanded and its own permissions, parsed. */
  readonly permissions: readonly Permission[];
  /** Uses left of its cap as far as the store's usage totals know; null when uncapped. */
  readonly remainingUses: number | null;
}

/** What the holder asks of the child; undefined means "inherit". */
export interface ChildRequest {
  readonly env?: string;
  readonly permissions: readonly string[];
  readonly expiresAt?: number;
  readonly notBefore?: number;
  readonly cidrs?: readonly string[];
  readonly rate?: RateLimit;
  readonly maxUses?: number;
}

/** The child's constraints, resolved and checked. */
export interface ChildLimits {
  readonly env: string;
  readonly permissions: readonly string[];
  readonly expiresAt: number;
  readonly notBefore: number | null;
  readonly cidrs: readonly string[];
  readonly rate: RateLimit | null;
  readonly maxUses: number | null;
}

/** A rate no faster and no burstier than `outer`: at most as many requests in a period at least as long. */
export function rateWithin(inner: RateLimit, outer: RateLimit): boolean {
  return inner.count <= outer.count && inner.periodMs >= outer.periodMs;
}

/** Throws `invalid_request` naming the first dimension in which the child would exceed an ancestor. */
export function resolveChild(chain: readonly Ancestor[], request: ChildRequest, catalog: ServiceCatalog, now: number, maxDepth = DEFAULT_MAX_DEPTH): ChildLimits {
  const parent = chain[0];
  if (parent === undefined) throw invalid('parent', 'a child token needs a parent');
  if (chain.length > maxDepth) throw invalid('depth', `a token may be derived at most ${maxDepth} levels below its root`);
  const env = request.env ?? parent.record.env;
  if (chain.some((a) => a.record.env !== env)) throw invalid('env', `a child token belongs to its parent's environment (${parent.record.env})`);

  const permissions = parsePermissions(request.permissions, catalog, 'permissions');
  if (permissions.length === 0) throw invalid('permissions', 'a child token needs at least one permission');
  for (const ancestor of chain) {
    if (!isWithin(permissions, ancestor.permissions)) throw invalid('permissions', `the child may hold only permissions within its parent's (${ancestor.record.id})`);
  }

  const ceiling = Math.min(...chain.map((a) => a.record.expiresAt));
  const expiresAt = request.expiresAt ?? ceiling;
  if (expiresAt > ceiling) throw invalid('expiresAt', `the child cannot outlive its parent (expires ${new Date(ceiling).toISOString()})`);
  if (expiresAt <= now) throw invalid('expiresAt', 'the expiry is in the past');

  const floors = chain.map((a) => a.record.notBefore).filter((t): t is number => t !== null);
  const floor = floors.length === 0 ? null : Math.max(...floors);
  const notBefore = request.notBefore ?? floor;
  if (floor !== null && notBefore !== null && notBefore < floor) throw invalid('notBefore', `the child cannot be valid before its parent (${new Date(floor).toISOString()})`);
  if (notBefore !== null && notBefore >= expiresAt) throw invalid('notBefore', 'not-before must be earlier than the expiry');

  const cidrs = resolveCidrs(chain, request.cidrs);

  const rates = chain.map((a) => a.record.rate).filter((r): r is RateLimit => r !== null);
  const rate = request.rate ?? tightestRate(rates);
  if (rate !== null && rates.some((r) => !rateWithin(rate, r))) throw invalid('rate', 'the child cannot be allowed a faster rate than its parent');
  if (rate === null && rates.length > 0) throw invalid('rate', 'the parent is rate limited, so the child must be too');

  const caps = chain.map((a) => a.remainingUses).filter((u): u is number => u !== null);
  const cap = caps.length === 0 ? null : Math.min(...caps);
  const maxUses = request.maxUses ?? cap;
  if (cap !== null && (maxUses === null || maxUses > cap)) throw invalid('maxUses', `the child may be given at most the parent's remaining uses (${cap})`);
  if (maxUses !== null && maxUses < 1) throw invalid('maxUses', 'the parent has no uses left');

  return { env, permissions: permissions.map((p) => p.text), expiresAt, notBefore, cidrs, rate, maxUses };
}

function resolveCidrs(chain: readonly Ancestor[], asked: readonly string[] | undefined): readonly string[] {
  const limited = chain.filter((a) => a.record.cidrs.length > 0);
  if (asked === undefined) return limited[0]?.record.cidrs ?? [];
  const cidrs = asked.map((text, index) => {
    const cidr = parseCidr(text);
    if (cidr === undefined) throw invalid(`cidrs[${index}]`, `${JSON.stringify(text)} is not an IP address or CIDR`);
    return cidr;
  });
  for (const ancestor of limited) {
    // An empty list means any address: the child must name addresses within every limited ancestor's.
    if (cidrs.length === 0) throw invalid('cidrs', `the parent allows only ${ancestor.record.cidrs.join(', ')}`);
    const outside = cidrs.find((c) => !ancestor.record.cidrs.some((outer) => cidrWithin(c, outer)));
    if (outside !== undefined) throw invalid('cidrs', `${outside} is outside the addresses its parent allows (${ancestor.record.cidrs.join(', ')})`);
  }
  return cidrs;
}

function tightestRate(rates: readonly RateLimit[]): RateLimit | null {
  if (rates.length === 0) return null;
  // The fewest requests over the longest period of any ancestor is within each of them.
  return { count: Math.min(...rates.map((r) => r.count)), periodMs: Math.max(...rates.map((r) => r.periodMs)) };
}
