import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { hashEvent } from './chain.js';
import { csvCell, parseAuditCsv, parseCsv } from './csv.js';
import type { AuditEvent, AuditEventInput } from './event.js';
import { exportAudit, parseAuditJsonl, type AuditExportFormat } from './export.js';
import type { AuditReadFilter } from './read.js';
import { adminInput, decisionInput } from './tamper.contract.js';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-export-'));
  store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
  await store.migrate();
});

afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function exported(filter: AuditReadFilter, format: AuditExportFormat): Promise<{ text: string; count: number }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const count = await exportAudit(store, filter, format, out);
  return { text: Buffer.concat(chunks).toString('utf8'), count };
}

const awkward = [
  'plain', '', 'comma, inside', 'quote " inside', '"quoted"', 'line\nbreak', 'crlf\r\nbreak', ' leading space',
  'trailing space ', '=HYPERLINK("http://evil","x")', '+1+1', '-2+3', '@SUM(A1)', '\tTAB', "'already quoted", 'ünïcødé ✓ 🗝',
];

function awkwardDecision(i: number, text: string): AuditEventInput {
  const base = decisionInput(i);
  return { ...base, detail: { ...base.detail, resource: text, tokenName: text === '' ? '' : base.detail.tokenName, client: text } };
}

describe('audit export', () => {
  let all: AuditEvent[];

  beforeAll(async () => {
    const inputs: AuditEventInput[] = awkward.map((text, i) => awkwardDecision(i, text));
    inputs.push(adminInput(100), { ...adminInput(101), detail: { ...adminInput(101).detail, before: { n: -1, s: '=x' }, after: undefined } });
    for (let i = 0; i < 2500; i++) inputs.push(decisionInput(200 + i));
    await store.appendAudit(inputs);
    all = await store.readAudit({ limit: 10_000 });
  });

  test('JSONL round trips every event exactly', async () => {
    const { text, count } = await exported({}, 'jsonl');
    expect(count).toBe(all.length);
    expect(parseAuditJsonl(text)).toEqual(all);
  });

  test('CSV round trips every event, so each hash can be recomputed from the file', async () => {
    const { text, count } = await exported({}, 'csv');
    expect(count).toBe(all.length);
    const parsed = parseAuditCsv(text);
    expect(parsed).toHaveLength(all.length);
    for (const event of parsed) expect(hashEvent(event.seq, event.prevHash, event), `event ${event.seq}`).toBe(event.hash);
    expect(parsed.map((e) => e.detail)).toEqual(all.map((e) => JSON.parse(JSON.stringify(e.detail))));
  });

  test('CSV cells that a spreadsheet would run as formulas start with a quote', async () => {
    const { text } = await exported({ limit: awkward.length }, 'csv');
    const cells = text.split(/[,\r\n]/);
    expect(text).toContain(`"'=HYPERLINK(""http://evil"",""x"")"`);
    for (const start of ['=', '+', '-', '@', '\t']) expect(cells.some((cell) => cell.startsWith(start))).toBe(false);
    expect(text).toContain("'@SUM(A1)");
    expect(text).toContain("''already quoted");
  });

  test('filters and limits apply, across pages', async () => {
    const denied = all.filter((e) => e.kind === 'decision' && e.detail.decision === 'deny' && e.detail.service === 'orders');
    const { text, count } = await exported({ kind: 'decision', decision: 'deny', service: 'orders' }, 'jsonl');
    expect(count).toBe(denied.length);
    expect(parseAuditJsonl(text)).toEqual(denied);
    expect((await exported({ afterSeq: 10, limit: 1234 }, 'jsonl')).count).toBe(1234);
  });

  test('a slow reader gets the whole export (backpressure is honoured)', async () => {
    let received = '';
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.toString('utf8');
        setTimeout(done, 1);
      },
    });
    const count = await exportAudit(store, {}, 'jsonl', slow);
    await new Promise<void>((resolve) => slow.end(resolve));
    expect(count).toBe(all.length);
    expect(parseAuditJsonl(received)).toEqual(all);
  });
});

describe('CSV cells', () => {
  test('any string or null survives a write and a read', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.string({ unit: 'grapheme' }), { nil: null }), { minLength: 1, maxLength: 6 }), (cells) => {
        const line = `${cells.map(csvCell).join(',')}\r\n`;
        expect(parseCsv(line)).toEqual([cells]);
      }),
    );
  });

  test('no cell begins with a formula character', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const cell = csvCell(text);
        const content = cell.startsWith('"') ? cell.slice(1) : cell;
        expect(/^[=+\-@\t\r]/.test(content)).toBe(false);
      }),
    );
  });
});
