import type { AuditEventInput, DecisionDetail } from './event.js';

// Every string a client can influence is stored at a bounded length: a
// 15,000-character path must not cost 15 KB of audit log per refusal (a disk
// filled by refusals stops all traffic under audit.failMode closed). A cut
// field keeps its head and says how long it was, so an investigator still sees
// what was tried and that it was longer.

/** Most characters stored per decision field, the truncation marker included. */
export const DECISION_FIELD_LIMITS = {
  node: 128,
  tokenId: 64,
  tokenName: 128,
  env: 32,
  service: 64,
  action: 32,
  requestId: 128,
  resource: 1024,
  reason: 64,
  matched: 256,
  client: 64,
} as const satisfies Partial<Record<keyof DecisionDetail, number>>;

type BoundedField = keyof typeof DECISION_FIELD_LIMITS;
const FIELDS = Object.keys(DECISION_FIELD_LIMITS) as BoundedField[];

/**
 * `…[truncated, 15000 chars]` after the kept head, the whole at most `limit`
 * characters (so cutting twice changes nothing); the original length lets a
 * reader tell a cut value apart.
 */
export function truncated(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const marker = `…[truncated, ${text.length} chars]`;
  // Never split a surrogate pair: the stored text stays valid UTF-16.
  let end = Math.max(0, limit - marker.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${marker}`;
}

/** The decision detail with each field at most its limit; the same object when nothing was too long (nearly always). */
export function boundDecision(detail: DecisionDetail): DecisionDetail {
  let copy: Record<string, unknown> | undefined;
  for (const field of FIELDS) {
    const value = detail[field];
    if (typeof value !== 'string') continue;
    const limit = DECISION_FIELD_LIMITS[field];
    if (value.length <= limit) continue;
    copy ??= { ...detail };
    copy[field] = truncated(value, limit);
  }
  return (copy as DecisionDetail | undefined) ?? detail;
}

/** Bounds a decision event; admin events (written by authenticated administrators) pass unchanged. */
export function boundEvent<T extends AuditEventInput>(event: T): T {
  if (event.kind !== 'decision') return event;
  const detail = boundDecision(event.detail);
  return detail === event.detail ? event : ({ ...event, detail } as T);
}
