import { effectivePermissions, loadServiceCatalog } from '../lifecycle/index.js';
import type { Permission, ServiceCatalog } from '../policy/types.js';
import type { TokenRecord } from '../store/records.js';
import type { SeenInDays, Store, UsageCount } from '../store/store.js';
import { replay, type ReplayResult } from './replay.js';
import { suggestGrant, type SeenUse } from './suggest.js';

// The two reports an operator cleaning up token sprawl reads: tokens not used
// in a window, and permissions granted but never exercised, each with a
// suggested minimal grant. Both read only what the usage counters flushed:
// the totals (which permission was last used when) and the daily rollup of
// distinct requests (what the suggestion is made from), never the audit trail,
// which stays the record the narrowing replay checks a proposal against. The
// rollup is per UTC day, so the suggestion sees the whole of the window's first
// day; only permissions the totals call used in the window are suggested from.

export const DAY_MS = 86_400_000;

export interface ReportWindow {
  readonly days: number;
  readonly now: number;
  readonly env?: string;
}

export interface UnusedToken {
  readonly id: string;
  readonly name: string;
  readonly env: string;
  readonly owner: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Null: never used. */
  readonly lastUsed: number | null;
}

export interface OverprivilegedToken {
  readonly id: string;
  readonly name: string;
  readonly env: string;
  readonly granted: readonly string[];
  readonly used: readonly string[];
  readonly unused: readonly string[];
  readonly suggested: readonly string[];
}

/** Live tokens (active, unexpired, not honeytokens), page by page. */
async function* liveTokens(store: Store, now: number, env: string | undefined): AsyncGenerator<TokenRecord> {
  let cursor: string | undefined;
  do {
    const page = await store.listTokens({ status: 'active', limit: 500, ...(env !== undefined && { env }), ...(cursor !== undefined && { cursor }) });
    for (const token of page.items) if (!token.honey && token.expiresAt > now) yield token;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

function usageByToken(usage: readonly UsageCount[]): Map<string, UsageCount[]> {
  const by = new Map<string, UsageCount[]>();
  for (const u of usage) {
    let list = by.get(u.tokenId);
    if (list === undefined) by.set(u.tokenId, (list = []));
    list.push(u);
  }
  return by;
}

export async function unusedReport(store: Store, window: ReportWindow): Promise<UnusedToken[]> {
  const since = window.now - window.days * DAY_MS;
  const usage = usageByToken(await store.listUsage());
  const found: UnusedToken[] = [];
  for await (const token of liveTokens(store, window.now, window.env)) {
    const uses = usage.get(token.id) ?? [];
    const lastUsed = uses.length === 0 ? null : Math.max(...uses.map((u) => u.lastUsed));
    if (lastUsed !== null && lastUsed >= since) continue;
    found.push({ id: token.id, name: token.name, env: token.env, owner: token.owner, createdAt: token.createdAt, expiresAt: token.expiresAt, lastUsed });
  }
  return found;
}

/** A token's seen requests, and the permissions whose requests are not all known (the rollup overflowed). */
interface SeenOfToken {
  readonly requests: SeenUse[];
  readonly overflowed: Set<string>;
}

function seenByToken(seen: SeenInDays): Map<string, SeenOfToken> {
  const by = new Map<string, SeenOfToken>();
  const of = (tokenId: string) => {
    let found = by.get(tokenId);
    if (found === undefined) by.set(tokenId, (found = { requests: [], overflowed: new Set() }));
    return found;
  };
  for (const r of seen.requests) of(r.tokenId).requests.push(r);
  for (const o of seen.overflows) of(o.tokenId).overflowed.add(o.permission);
  return by;
}

/** The rollup's days that a window touches (its first day whole). */
function windowDays(window: ReportWindow): { fromDay: number; toDay: number } {
  return { fromDay: Math.floor((window.now - window.days * DAY_MS) / DAY_MS), toDay: Math.floor(window.now / DAY_MS) };
}

/**
 * The suggestion from what was seen of the permissions used in the window; a
 * used permission whose requests are not all known (overflowed, or counted
 * with none recorded) is kept as granted.
 */
function suggestionOf(granted: readonly Permission[], used: ReadonlySet<string>, seen: SeenOfToken | undefined, catalog: ServiceCatalog): string[] {
  const requests = (seen?.requests ?? []).filter((r) => used.has(r.permission));
  const recorded = new Set(requests.map((r) => r.permission));
  const keep = new Set([...used].filter((p) => seen?.overflowed.has(p) === true || !recorded.has(p)));
  return suggestGrant(requests, granted, catalog, keep);
}

function usedSince(usage: readonly UsageCount[], since: number): Set<string> {
  return new Set(usage.filter((u) => u.lastUsed >= since).map((u) => u.permission));
}

/** Tokens made from one template share a grant: each distinct grant is parsed once per report. */
type GrantMemo = Map<string, Permission[]>;

async function grantOf(store: Store, token: TokenRecord, catalog: ServiceCatalog, memo: GrantMemo): Promise<Permission[]> {
  const key = JSON.stringify([token.roles, token.permissions]);
  let granted = memo.get(key);
  if (granted === undefined) memo.set(key, (granted = await effectivePermissions(store, token, catalog)));
  return granted;
}

async function overprivilegedOf(store: Store, token: TokenRecord, catalog: ServiceCatalog, used: ReadonlySet<string>, seen: SeenOfToken | undefined, memo: GrantMemo): Promise<OverprivilegedToken | null> {
  const granted = await grantOf(store, token, catalog, memo);
  const allows = granted.filter((p) => p.effect === 'allow');
  const unused = allows.filter((p) => !used.has(p.text)).map((p) => p.text);
  if (unused.length === 0) return null;
  return {
    id: token.id, name: token.name, env: token.env,
    granted: granted.map((p) => p.text),
    used: allows.filter((p) => used.has(p.text)).map((p) => p.text),
    unused,
    suggested: suggestionOf(granted, used, seen, catalog),
  };
}

/** Tokens with granted allows never exercised in the window; those never used at all are in the unused report. */
export async function overprivilegedReport(store: Store, window: ReportWindow): Promise<OverprivilegedToken[]> {
  const since = window.now - window.days * DAY_MS;
  const catalog = await loadServiceCatalog(store);
  const usage = usageByToken(await store.listUsage());
  const seen = seenByToken(await store.listSeenRequests(windowDays(window)));
  const found: OverprivilegedToken[] = [];
  const memo: GrantMemo = new Map();
  for await (const token of liveTokens(store, window.now, window.env)) {
    const used = usedSince(usage.get(token.id) ?? [], since);
    if (used.size === 0) continue;
    const report = await overprivilegedOf(store, token, catalog, used, seen.get(token.id), memo);
    if (report !== null) found.push(report);
  }
  return found;
}

export interface NarrowPlan {
  readonly id: string;
  readonly current: readonly string[];
  readonly proposed: readonly string[];
  readonly replay: ReplayResult;
}

/**
 * `to`: 'suggested' (the report's suggestion, from the usage rollup), or the
 * permissions to keep. Replays the window's audited allowed requests against it.
 */
export async function planNarrow(store: Store, token: TokenRecord, to: 'suggested' | readonly string[], window: ReportWindow): Promise<NarrowPlan> {
  const since = window.now - window.days * DAY_MS;
  const catalog = await loadServiceCatalog(store);
  const requests = await store.summarizeRequests({ fromTime: since, toTime: window.now + 1, tokenId: token.id });
  const granted = await effectivePermissions(store, token, catalog);
  let proposed: string[];
  if (to === 'suggested') {
    const used = usedSince(await store.listUsage(token.id), since);
    const seen = seenByToken(await store.listSeenRequests({ ...windowDays(window), tokenId: token.id })).get(token.id);
    proposed = suggestionOf(granted, used, seen, catalog);
  } else {
    proposed = [...to];
  }
  return { id: token.id, current: granted.map((p) => p.text), proposed, replay: replay(requests, proposed, catalog) };
}
