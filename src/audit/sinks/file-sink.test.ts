import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { GENESIS_HASH, linkEvents } from '../chain.js';
import { parseAuditJsonl } from '../export.js';
import { decisionInput } from '../tamper.contract.js';
import { createFileSink } from './file-sink.js';
import { createStdoutSink } from './stdout-sink.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-file-sink-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const chain = linkEvents(0, GENESIS_HASH, Array.from({ length: 400 }, (_, i) => decisionInput(i)));

describe('JSONL file sink', () => {
  test('rotates by size, keeps maxFiles old files, and loses no line of what it keeps', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createFileSink({ path, maxBytes: 16 * 1024, maxFiles: 3 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => sink.write(chain.slice(i * 10, i * 10 + 10))));
    await sink.close!();
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3']);
    for (const file of files) {
      expect((await stat(join(dir, file))).size).toBeLessThanOrEqual(16 * 1024);
      expect((await stat(join(dir, file))).mode & 0o777).toBe(0o600);
    }
    // Oldest to newest: .3, .2, .1, current — one unbroken run ending at the last event.
    const text = (await Promise.all(['audit.jsonl.3', 'audit.jsonl.2', 'audit.jsonl.1', 'audit.jsonl'].map((f) => readFile(join(dir, f), 'utf8')))).join('');
    const seqs = parseAuditJsonl(text).map((e) => e.seq);
    expect(seqs.at(-1)).toBe(400);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 401 - seqs.length + i));
  });

  test('appends to an existing file after a restart, counting its size', async () => {
    const path = join(dir, 'audit.jsonl');
    const first = createFileSink({ path, maxBytes: 1 << 20 });
    await first.write(chain.slice(0, 5));
    await first.close!();
    const second = createFileSink({ path, maxBytes: 1 << 20 });
    await second.write(chain.slice(5, 9));
    await second.close!();
    expect(parseAuditJsonl(await readFile(path, 'utf8')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('stdout sink', () => {
  test('writes one JSON line per event, in order', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const sink = createStdoutSink(out);
    await Promise.all([sink.write(chain.slice(0, 3)), sink.write(chain.slice(3, 6))]);
    await sink.close!();
    expect(parseAuditJsonl(text)).toEqual(chain.slice(0, 6));
  });
});
