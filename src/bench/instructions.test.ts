import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJitNames, readProfile } from './instructions.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-instructions-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// V8's perf map: `start size name`, in hex; a function's tiers under one name once read.
const perfMap = file(
  'perf.map',
  [
    '1000 100 JS:~canonicalFlat file:///srv/latchkey/build/audit/canonical.js:114:30',
    '2000 80 JS:*canonicalFlat file:///srv/latchkey/build/audit/canonical.js:114:30',
    '3000 40 JS:*processHeader /srv/latchkey/node_modules/undici/lib/core/request.js:385:24',
    '4000 20 RegExp:[^\\t\\x20-\\x7e]',
    'not a line of the map',
    '',
  ].join('\n'),
);

// A callgrind dump: names given once as `(id) name`, then `(id)`; the line after `calls=` is a call's inclusive cost.
const mainThread = file(
  'cg.out.1-01',
  [
    'events: Ir',
    'ob=(1) /usr/bin/node',
    'fn=(1) Builtins_StringAdd_CheckNone',
    '0 50',
    'ob=(2) ???',
    'fn=(2) 0x0000000000001010',
    '0 30',
    'cfn=(1)',
    'calls=1 0',
    '0 50',
    'fn=(3) 0x0000000000002004',
    '0 12',
    'fn=(4) 0x0000000000003000',
    '+2 7',
    'fn=(5) 0x0000000000004001',
    '0 5',
    'fn=(6) 0x0000000000009000',
    '0 3',
    'ob=(1)',
    'fn=(1)',
    '0 10',
    '',
  ].join('\n'),
);
const helperThread = file('cg.out.1-02', ['events: Ir', 'ob=(1) /usr/bin/node', 'fn=(1) v8::internal::compiler::GraphReducer::Reduce()', '0 400', ''].join('\n'));

describe('instruction profile', () => {
  const jit = readJitNames(perfMap);

  it('names JIT code from the perf map, every tier of a function as one', () => {
    expect(jit.names).toEqual([
      'JS: canonicalFlat file:///srv/latchkey/build/audit/canonical.js:114',
      'JS: canonicalFlat file:///srv/latchkey/build/audit/canonical.js:114',
      'JS: processHeader /srv/latchkey/node_modules/undici/lib/core/request.js:385',
      'RegExp:[^\\t\\x20-\\x7e]',
    ]);
    expect(readJitNames(join(dir, 'absent.map')).names).toEqual([]);
  });

  it("counts each function's own cost (not a call's inclusive one) and splits the main thread from V8's helpers", () => {
    const profile = readProfile([mainThread, helperThread], jit);
    expect(profile.total).toBe(50 + 30 + 12 + 7 + 5 + 3 + 10 + 400);
    expect(profile.main).toBe(117);
    expect(Object.fromEntries(profile.functions)).toEqual({
      'Builtins_StringAdd_CheckNone [/usr/bin/node]': 60,
      'JS: canonicalFlat file:///srv/latchkey/build/audit/canonical.js:114': 42,
      'JS: processHeader /srv/latchkey/node_modules/undici/lib/core/request.js:385': 7,
      'RegExp:[^\\t\\x20-\\x7e]': 5,
      // Past the end of every mapped range: named by address, as callgrind gave it.
      '0x0000000000009000 [???]': 3,
    });
    expect(Object.fromEntries(profile.buckets)).toEqual({
      'V8 builtins and interpreter': 60,
      "JS: Latchkey's own (build/)": 42,
      'JS: undici': 7,
      'regular expressions (JIT)': 5,
      'JIT code V8 did not name': 3,
    });
  });

  it('without a perf map, JIT code keeps its address', () => {
    const profile = readProfile([mainThread]);
    expect(profile.functions.get('0x0000000000001010 [???]')).toBe(30);
    expect(profile.buckets.get('JIT code V8 did not name')).toBe(30 + 12 + 7 + 5 + 3);
  });
});
