import { once } from 'node:events';
import type { Store } from '../store/store.js';
import { csvHeader, eventCsvRow } from './csv.js';
import type { AuditEvent } from './event.js';
import { readAuditEvents, type AuditReadFilter } from './read.js';
import { redactEvent } from './redact.js';

// `audit export` and GET /v1/audit/export: the log streamed as JSONL (lossless;
// every hash can be recomputed from it) or CSV (for spreadsheets; see csv.ts).

export type AuditExportFormat = 'jsonl' | 'csv';
export const AUDIT_EXPORT_FORMATS: readonly AuditExportFormat[] = ['jsonl', 'csv'];

/** One JSONL line. Field order is fixed so that two exports of one log are byte-identical. */
export function eventJsonLine(event: AuditEvent): string {
  return `${JSON.stringify({
    seq: event.seq,
    time: event.time,
    kind: event.kind,
    detail: event.detail,
    prevHash: event.prevHash,
    hash: event.hash,
  })}\n`;
}

/** Parses exported JSONL back into events. */
export function parseAuditJsonl(text: string): AuditEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

/**
 * Writes every event matching `filter` to `out` in `format`, honouring
 * backpressure, and returns how many. Does not end `out`: the caller may be
 * writing to stdout or an HTTP response it still owns.
 *
 * Events are redacted once more on the way out. Events the recorder wrote are
 * clean already (the same objects pass through); this only matters for an
 * event that reached the store some other way, and for it a hash that no
 * longer matches its export is better than a secret in a file.
 */
export async function exportAudit(
  store: Pick<Store, 'readAudit'>,
  filter: AuditReadFilter,
  format: AuditExportFormat,
  out: NodeJS.WritableStream,
): Promise<number> {
  const line = format === 'csv' ? eventCsvRow : eventJsonLine;
  let count = 0;
  let chunk = format === 'csv' ? csvHeader() : '';
  for await (const event of readAuditEvents(store, filter)) {
    chunk += line(redactEvent(event));
    count += 1;
    if (chunk.length >= 64 * 1024) {
      await write(out, chunk);
      chunk = '';
    }
  }
  if (chunk !== '') await write(out, chunk);
  return count;
}

async function write(out: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out as NodeJS.EventEmitter, 'drain');
}
