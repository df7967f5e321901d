// Every call of the console goes to the same /v1 admin API as the command line,
// authenticated by the session cookie plus the CSRF token held here, in memory
// only (never in localStorage): a reload asks the server for it again.

let csrf: string | null = null;

export function setCsrf(value: string | null): void {
  csrf = value;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (csrf !== null) headers['x-latchkey-csrf'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined && { body: JSON.stringify(body) }) });
  if (response.status === 204) return undefined as T;
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, json?.error ?? 'error', json?.message ?? response.statusText, json?.field);
  return json as T;
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}${err.field !== undefined ? ` (${err.field})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** The admin routes this server serves, from its OpenAPI document: buttons for routes it lacks stay hidden. */
let routes: Promise<Set<string>> | null = null;
export function servedRoutes(): Promise<Set<string>> {
  routes ??= api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/v1/openapi.json').then((doc) =>
    new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))));
  return routes;
}

export interface Token {
  id: string; name: string; hint: string; env: string; owner: string; status: 'active' | 'disabled' | 'revoked';
  roles: string[]; permissions: string[]; expiresAt: string; notBefore: string | null; cidrs: string[];
  rate: { count: number; periodMs: number } | null; maxUses: number | null; parentId: string | null; honey: boolean;
  createdAt: string; createdBy: string; updatedAt: string;
}
export interface Role { name: string; description: string; permissions: string[] }
export interface Service { name: string; kind: 'http' | 'postgres' | 'mcp'; bindings: Array<{ env: string; upstream: string; credentialReady?: boolean }> }
export interface Environment { name: string; maxTtl: string }
export interface DecisionDetail { tokenId: string | null; tokenName: string | null; env: string; service: string; action: string; resource: string; decision: 'allow' | 'deny'; reason: string; matched: string | null; upstreamStatus: number | null; client: string; count?: number }
export interface AdminDetail { actor: string; action: string; target: string; after: unknown }
export type AuditEvent =
  | { seq: number; time: number; kind: 'decision'; detail: DecisionDetail }
  | { seq: number; time: number; kind: 'admin'; detail: AdminDetail };

/** The newest events (up to `count`), newest first, of the whole trail or of a filter. */
export async function recentAudit(count: number, filter: Record<string, string> = {}): Promise<AuditEvent[]> {
  const { head } = await api<{ head: { seq: number } }>('GET', '/v1/audit/head');
  const query = new URLSearchParams({ ...filter, after: String(Math.max(0, head.seq - count * 5)), limit: '1000' });
  const page = await api<{ items: AuditEvent[] }>('GET', `/v1/audit/events?${query}`);
  return page.items.slice(-count).reverse();
}
