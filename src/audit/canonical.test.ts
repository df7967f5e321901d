import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonicalJson } from './canonical.js';
import { hashEvent } from './chain.js';
import type { AuditEventInput } from './event.js';
import { adminInput, decisionInput } from './tamper.contract.js';

// The first, plain implementation, kept as the reference the fast one must match byte for byte:
// every chain already written was hashed over its output.
function reference(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => reference(item === undefined ? null : item)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  throw new Error(`cannot represent a ${typeof value}`);
}

describe('canonical JSON', () => {
  test('matches the reference implementation on any JSON value, undefined members included', () => {
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 2 }),
        fc.constant(undefined),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), withUndefined, { maxKeys: 8 }), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 300 },
    );
  });

  test('quotes every UTF-16 code unit as JSON.stringify does, alone, after text and around long text', () => {
    for (let unit = 0; unit <= 0xffff; unit++) {
      const c = String.fromCharCode(unit);
      for (const text of [c, `a${c}`, 'x'.repeat(64) + c, c + 'y'.repeat(200)]) {
        if (canonicalJson(text) !== JSON.stringify(text)) expect(canonicalJson(text)).toBe(JSON.stringify(text));
      }
    }
    expect(canonicalJson('\ud83d\ude00'.repeat(40))).toBe(JSON.stringify('\ud83d\ude00'.repeat(40)));
  });

  test('RFC 8785 examples: key order by UTF-16 code units, number forms', () => {
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '1': 4, '\u00f6': 5 })).toBe(
      '{"\\r":2,"1":4,"ö":5,"€":1,"😀":3}',
    );
    expect(canonicalJson([1e21, 1e-7, -0, 0.1 + 0.2, 333333333.3333333])).toBe('[1e+21,1e-7,0,0.30000000000000004,333333333.3333333]');
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson(undefined)).toThrow();
  });

  test('hashEvent is SHA-256 over the canonical form of seq, prevHash, kind, time and detail', () => {
    const inputs: AuditEventInput[] = [decisionInput(3), adminInput(4), { ...adminInput(5), detail: { ...adminInput(5).detail, after: undefined } }];
    for (const input of inputs) {
      const body = reference({ seq: 9, prevHash: 'ab'.repeat(32), kind: input.kind, time: input.time, detail: input.detail });
      expect(hashEvent(9, 'ab'.repeat(32), input)).toBe(createHash('sha256').update(body).digest('hex'));
    }
  });
});
