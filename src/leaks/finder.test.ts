import { mkdtempSync, rmSync, writeFileSync, mkdirSync, createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { displayHint, generateToken } from '../token/index.js';
import type { RawFinding } from './finding.js';
import { filesUnder, scanStream, TokenFinder } from './index.js';

function findIn(text: string | Buffer, options: { all?: boolean; chunk?: number } = {}): RawFinding[] {
  const found: RawFinding[] = [];
  const finder = new TokenFinder('t', (finding) => found.push(finding), options.all === undefined ? {} : { all: options.all });
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const size = options.chunk ?? bytes.length;
  for (let i = 0; i < bytes.length; i += size) finder.feed(bytes.subarray(i, i + size));
  finder.end();
  return found;
}

/** Same shape, last checksum character changed: a look-alike the checksum rejects. */
function lookAlike(token: string): string {
  const last = token.at(-1)!;
  return token.slice(0, -1) + (last === 'a' ? 'b' : 'a');
}

const dir = mkdtempSync(join(tmpdir(), 'latchkey-scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token finder', () => {
  it('reports a token with its line, column (in characters) and hint, never more', () => {
    const token = generateToken('prod');
    const found = findIn(`first line\nné: LATCHKEY_TOKEN="${token}"\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: 2, col: 21, hint: displayHint(token), lookAlike: false });
  });

  it('finds the same tokens whatever the chunk size, including one byte at a time', () => {
    const tokens = [generateToken('dev'), generateToken('staging'), generateToken('prod')];
    const text = `a ${tokens[0]}\n\n  x=${tokens[1]};\n${'y'.repeat(300)} ${tokens[2]}`;
    const whole = findIn(text).map((f) => [f.line, f.col, f.token]);
    expect(whole.map((entry) => entry[2])).toEqual(tokens);
    for (const chunk of [1, 7, 53, 64, 100]) expect(findIn(text, { chunk }).map((f) => [f.line, f.col, f.token])).toEqual(whole);
  });

  it('does not report a checksum-invalid look-alike without --all, and marks it with --all', () => {
    const fake = lookAlike(generateToken('prod'));
    expect(findIn(`key=${fake}\n`)).toEqual([]);
    const found = findIn(`key=${fake}\n`, { all: true });
    expect(found).toHaveLength(1);
    expect(found[0]!.lookAlike).toBe(true);
  });

  it('does not report a token split across lines, nor one inside a longer word', () => {
    const token = generateToken('prod');
    expect(findIn(`${token.slice(0, 20)}\n${token.slice(20)}\n`, { all: true })).toEqual([]);
    expect(findIn(`${token.slice(0, 20)}\\\n${token.slice(20)}`)).toEqual([]);
    expect(findIn(`x${token}`)).toEqual([]);
    expect(findIn(`${token}X`)).toEqual([]);
  });
});

describe('files', () => {
  it('skips a binary file even when a token is inside it', async () => {
    const token = generateToken('prod');
    const file = join(dir, 'blob.bin');
    writeFileSync(file, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1]), Buffer.from(` ${token} `)]));
    const found: RawFinding[] = [];
    const result = await scanStream(createReadStream(file), file, (f) => found.push(f));
    expect(result.binary).toBe(true);
    expect(found).toEqual([]);
  });

  it('streams a 50 MB file and finds the token near its end, on the right line', async () => {
    const token = generateToken('prod');
    const file = join(dir, 'big.log');
    const line = `${'2024-01-01T00:00:00Z INFO request handled in 3ms path=/v1/orders'.padEnd(99, ' ')}\n`;
    const block = Buffer.from(line.repeat(10_000)); // 1 MB
    const fd = openSync(file, 'w');
    for (let i = 0; i < 50; i++) writeSync(fd, block);
    writeSync(fd, `leaked: ${token}\n`);
    closeSync(fd);
    const found: RawFinding[] = [];
    const result = await scanStream(createReadStream(file, { highWaterMark: 1 << 20 }), file, (f) => found.push(f));
    expect(result.bytes).toBeGreaterThan(50_000_000);
    expect(found.map((f) => [f.line, f.col, f.token])).toEqual([[500_001, 9, token]]);
  }, 60_000);

  it('honours .gitignore (negation, directories, anchors, **) unless told not to', () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'build', 'deep'), { recursive: true });
    mkdirSync(join(root, 'src', 'logs'), { recursive: true });
    writeFileSync(join(root, '.gitignore'), '# build output\nbuild/\n*.log\n!keep.log\n/top.txt\n**/secret-*\n');
    writeFileSync(join(root, 'src', '.gitignore'), 'local.ts\n');
    for (const path of ['build/deep/a.ts', 'src/a.log', 'src/keep.log', 'top.txt', 'src/top.txt', 'src/logs/secret-x', 'src/local.ts', 'local.ts', 'src/main.ts']) {
      writeFileSync(join(root, path), 'x');
    }
    const rel = (paths: Iterable<string>) => [...paths].map((p) => p.slice(root.length + 1)).sort();
    expect(rel(filesUnder(root))).toEqual(['.gitignore', 'local.ts', 'src/.gitignore', 'src/keep.log', 'src/main.ts', 'src/top.txt']);
    expect(rel(filesUnder(root, { noIgnore: true }))).toHaveLength(11);
  });
});
