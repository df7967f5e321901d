import { effectivePermissions, loadServiceCatalog } from '../lifecycle/index.js';
import type { Permission, ServiceCatalog } from '../policy/types.js';
import type { TokenRecord } from '../store/records.js';
import type { RequestSummary, Store, UsageCount } from '../store/store.js';
import { replay, type ReplayResult } from './replay.js';
import { suggestGrant } from './suggest.js';

// The two reports an operator cleaning up token sprawl reads: tokens not used
// in a window, and permissions granted but never exercised, each with a
// suggested minimal grant. Usage comes from the usage totals (which permission
// was last used when); the suggestion from the audited requests of the window.

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

function requestsByToken(requests: readonly RequestSummary[]): Map<string, RequestSummary[]> {
  const by = new Map<string, RequestSummary[]>();
  for (const r of requests) {
    let list = by.get(r.tokenId);
    if (list === undefined) by.set(r.tokenId, (list = []));
    list.push(r);
  }
  return by;
}

/** Tokens made from one template share a grant: each distinct grant is parsed once per report. */
type GrantMemo = Map<string, Permission[]>;

async function grantOf(store: Store, token: TokenRecord, catalog: ServiceCatalog, memo: GrantMemo): Promise<Permission[]> {
  const key = JSON.stringify([token.roles, token.permissions]);
  let granted = memo.get(key);
  if (granted === undefined) memo.set(key, (granted = await effectivePermissions(store, token, catalog)));
  return granted;
}

async function overprivilegedOf(store: Store, token: TokenRecord, catalog: ServiceCatalog, used: ReadonlySet<string>, requests: readonly RequestSummary[], memo: GrantMemo): Promise<OverprivilegedToken | null> {
  const granted = await grantOf(store, token, catalog, memo);
  const allows = granted.filter((p) => p.effect === 'allow');
  const unused = allows.filter((p) => !used.has(p.text)).map((p) => p.text);
  if (unused.length === 0) return null;
  return {
    id: token.id, name: token.name, env: token.env,
    granted: granted.map((p) => p.text),
    used: allows.filter((p) => used.has(p.text)).map((p) => p.text),
    unused,
    suggested: suggestGrant(requests, granted, catalog),
  };
}

/** Tokens with granted allows never exercised in the window; those never used at all are in the unused report. */
export async function overprivilegedReport(store: Store, window: ReportWindow): Promise<OverprivilegedToken[]> {
  const since = window.now - window.days * DAY_MS;
  const catalog = await loadServiceCatalog(store);
  const usage = usageByToken(await store.listUsage());
  const requests = requestsByToken(await store.summarizeRequests({ fromTime: since, toTime: window.now + 1 }));
  const found: OverprivilegedToken[] = [];
  const memo: GrantMemo = new Map();
  for await (const token of liveTokens(store, window.now, window.env)) {
    const used = new Set((usage.get(token.id) ?? []).filter((u) => u.lastUsed >= since).map((u) => u.permission));
    if (used.size === 0) continue;
    const report = await overprivilegedOf(store, token, catalog, used, requests.get(token.id) ?? [], memo);
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

/** `to`: 'suggested', or the permissions to keep. Replays the window's allowed requests against it. */
export async function planNarrow(store: Store, token: TokenRecord, to: 'suggested' | readonly string[], window: ReportWindow): Promise<NarrowPlan> {
  const since = window.now - window.days * DAY_MS;
  const catalog = await loadServiceCatalog(store);
  const requests = await store.summarizeRequests({ fromTime: since, toTime: window.now + 1, tokenId: token.id });
  const granted = await effectivePermissions(store, token, catalog);
  const proposed = to === 'suggested' ? suggestGrant(requests, granted, catalog) : [...to];
  return { id: token.id, current: granted.map((p) => p.text), proposed, replay: replay(requests, proposed, catalog) };
}
