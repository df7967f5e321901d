// Scanner speed: MB/s of `latchkey scan`'s file path (walk, .gitignore,
// binary probe, token finder with line/column) over a generated 200 MB tree,
// beside two baselines over the same files in the same run: a plain streamed
// read (the floor any scanner pays) and `grep -rc lk_`. Goal: >= 150 MB/s on one core.
// Run: `npm run bench -- scan`. The tree lives in a temp dir and is deleted after.

import { spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesUnder, scanStream, type RawFinding } from '../leaks/index.js';
import { generateToken } from '../token/index.js';

const TOTAL_BYTES = 200 * 1024 * 1024;
const FILE_BYTES = 256 * 1024;
const DIRS = 40;
const PLANTED = 20;

/** Source-like lines with the scanner's near misses in them: `lk_` inside words, look-alikes, short bodies. */
function fileContent(seed: number, planted: string | undefined): Buffer {
  const lines = [
    '  const blk_size = computeBlockSize(options.block, 4096); // not a token: blk_',
    `export function handler${seed}(request: Request): Promise<Response> {`,
    '    log.debug({ id: request.id, path: request.url }, "lk_ prefix in a string but too short: lk_dev_abc");',
    '    if (value === undefined) throw new Error(`missing value for key ${key}`);',
    '# LATCHKEY_URL=http://127.0.0.1:7700  lk_prod_00000000000000000000000000000000000000 (look-alike)',
    '    return items.filter((item) => item.enabled && item.score > threshold).map(render);',
  ];
  let text = '';
  let i = seed;
  while (text.length < FILE_BYTES) text += `${lines[i++ % lines.length]}\n`;
  if (planted !== undefined) text += `LATCHKEY_TOKEN=${planted}\n`;
  return Buffer.from(text);
}

function mbps(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(0);
}

async function timeLatchkey(root: string): Promise<{ ms: number; bytes: number; found: number }> {
  const started = performance.now();
  let bytes = 0;
  const found: RawFinding[] = [];
  for (const file of filesUnder(root)) bytes += (await scanStream(createReadStream(file, { highWaterMark: 1 << 20 }), file, (f) => found.push(f))).bytes;
  return { ms: performance.now() - started, bytes, found: found.length };
}

async function timePlainRead(root: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  let bytes = 0;
  for (const file of filesUnder(root, { noIgnore: true })) {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) bytes += (chunk as Buffer).length;
  }
  return { ms: performance.now() - started, bytes };
}

function timeGrep(root: string): number | undefined {
  const started = performance.now();
  // Output to a pipe, not /dev/null: GNU grep stops at the first match when it sees /dev/null.
  const result = spawnSync('grep', ['-rc', 'lk_', root], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
  return result.error === undefined ? performance.now() - started : undefined;
}

export async function runScanBench(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-scan-bench-'));
  try {
    const files = Math.ceil(TOTAL_BYTES / FILE_BYTES);
    for (let i = 0; i < files; i++) {
      const dir = join(root, `pkg${i % DIRS}`, 'src');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `module${i}.ts`), fileContent(i, i % Math.floor(files / PLANTED) === 0 ? generateToken('prod') : undefined));
    }
    process.stdout.write(`tree: ${files} files in ${DIRS} directories, ${(TOTAL_BYTES / 1e6).toFixed(0)} MB; load average ${loadavg()[0]!.toFixed(2)}\n`);
    await timePlainRead(root); // warm the page cache so every row reads from memory
    for (let round = 1; round <= 2; round++) {
      const plain = await timePlainRead(root);
      const scan = await timeLatchkey(root);
      const grep = timeGrep(root);
      process.stdout.write(
        `round ${round}: latchkey scan ${mbps(scan.bytes, scan.ms)} MB/s (${scan.ms.toFixed(0)} ms, ${scan.found} tokens)` +
        ` | plain read ${mbps(plain.bytes, plain.ms)} MB/s (${plain.ms.toFixed(0)} ms)` +
        (grep === undefined ? ' | grep: not available\n' : ` | grep -rc lk_ ${mbps(plain.bytes, grep)} MB/s (${grep.toFixed(0)} ms)\n`),
      );
    }
    process.stdout.write('goal: latchkey scan >= 150 MB/s on one core\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
