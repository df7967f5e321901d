import type { AdminDetail, AuditEvent, DecisionDetail } from './event.js';

// Audit events as CSV (RFC 4180) for spreadsheets and auditors. One flat row
// per event; decision and admin columns side by side, the other kind's left
// empty. Two rules beyond RFC 4180, both lossless when read back with
// parseAuditCsv:
// - a cell starting with = + - @ TAB CR (which a spreadsheet would run as a
//   formula) or with ' gets a leading ', which spreadsheets hide;
// - null is an empty cell, the empty string is "" (quoted), so a reader
//   that cares can tell them apart.

export const CSV_COLUMNS = [
  'seq', 'time', 'kind',
  'node', 'env', 'token_id', 'token_name', 'service', 'action', 'resource',
  'decision', 'reason', 'matched', 'upstream_status', 'latency_ms', 'client', 'count', 'first_time',
  'actor', 'actor_token_id', 'target', 'before', 'after',
  'prev_hash', 'hash',
] as const;

type Cell = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r']/;
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (text === '') return '""';
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

function json(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

export function eventCsvRow(event: AuditEvent): string {
  const time = new Date(event.time).toISOString();
  let cells: Cell[];
  if (event.kind === 'decision') {
    const d = event.detail;
    cells = [
      event.seq, time, event.kind,
      d.node, d.env, d.tokenId, d.tokenName, d.service, d.action, d.resource,
      d.decision, d.reason, d.matched, d.upstreamStatus, d.latencyMs, d.client, d.count, d.firstTime,
      null, null, null, undefined, undefined,
      event.prevHash, event.hash,
    ];
  } else {
    const d = event.detail;
    cells = [
      event.seq, time, event.kind,
      null, null, null, null, null, d.action, null,
      null, null, null, null, null, null, null, null,
      d.actor, d.actorTokenId, d.target, json(d.before), json(d.after),
      event.prevHash, event.hash,
    ];
  }
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** A parsed cell: null for an empty unquoted cell, otherwise the text with the formula guard removed. */
export type ParsedCell = string | null;

/** Parses RFC 4180 text into rows of cells. Throws on an unterminated quote. */
export function parseCsv(text: string): ParsedCell[][] {
  const rows: ParsedCell[][] = [];
  let row: ParsedCell[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let cell: string;
    let quoted = false;
    if (text[i] === '"') {
      quoted = true;
      let end = i + 1;
      cell = '';
      for (;;) {
        const close = text.indexOf('"', end);
        if (close === -1) throw new Error('unterminated quoted CSV cell');
        cell += text.slice(end, close);
        if (text[close + 1] === '"') {
          cell += '"';
          end = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
    } else {
      let end = i;
      while (end < n && text[end] !== ',' && text[end] !== '\r' && text[end] !== '\n') end++;
      cell = text.slice(i, end);
      i = end;
    }
    if (cell.startsWith("'")) cell = cell.slice(1);
    row.push(!quoted && cell === '' ? null : cell);
    if (text[i] === ',') {
      i++;
      if (i === n) row.push(null);
    } else {
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      rows.push(row);
      row = [];
    }
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

function num(cell: ParsedCell): number | null {
  return cell === null ? null : Number(cell);
}

/** Reads back what exportAudit wrote as CSV. The hash of each event can then be recomputed. */
export function parseAuditCsv(text: string): AuditEvent[] {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined || header.join(',') !== CSV_COLUMNS.join(',')) throw new Error('not a Latchkey audit CSV');
  return rows.map((cells) => {
    const c = Object.fromEntries(CSV_COLUMNS.map((name, index) => [name, cells[index] ?? null])) as Record<
      (typeof CSV_COLUMNS)[number],
      ParsedCell
    >;
    const base = { seq: Number(c.seq), time: Date.parse(c.time ?? ''), prevHash: c.prev_hash ?? '', hash: c.hash ?? '' };
    if (c.kind === 'decision') {
      const detail: DecisionDetail = {
        node: c.node ?? '',
        tokenId: c.token_id,
        tokenName: c.token_name,
        env: c.env ?? '',
        service: c.service ?? '',
        action: c.action ?? '',
        resource: c.resource ?? '',
        decision: c.decision as DecisionDetail['decision'],
        reason: c.reason ?? '',
        matched: c.matched,
        upstreamStatus: num(c.upstream_status),
        latencyMs: num(c.latency_ms),
        client: c.client ?? '',
        ...(c.count !== null && { count: Number(c.count) }),
        ...(c.first_time !== null && { firstTime: Number(c.first_time) }),
      };
      return { ...base, kind: 'decision', detail };
    }
    const detail: AdminDetail = {
      actor: c.actor ?? '',
      actorTokenId: c.actor_token_id,
      action: c.action ?? '',
      target: c.target ?? '',
      before: c.before === null ? undefined : JSON.parse(c.before),
      after: c.after === null ? undefined : JSON.parse(c.after),
    };
    return { ...base, kind: 'admin', detail };
  });
}
