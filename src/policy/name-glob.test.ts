import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob } from './name-glob.js';
import { globMatches as viaRegExp } from './reference-interpreter.contract.js';

describe('compileGlob', () => {
  it('matches like the regular expression it stands for', () => {
    // A two-letter alphabet makes overlapping pieces (prefix, middle, suffix) common.
    const text = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 8 });
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '*'), maxLength: 7 });
    fc.assert(
      fc.property(glob, text, (pattern, name) => {
        expect(compileGlob(pattern)(name)).toBe(viaRegExp(pattern, name));
      }),
      { numRuns: 20_000 },
    );
  });

  it('handles the common shapes', () => {
    expect(compileGlob('list_*')('list_users')).toBe(true);
    expect(compileGlob('list_*')('lis')).toBe(false);
    expect(compileGlob('*_log')('audit_log')).toBe(true);
    expect(compileGlob('a*b*a')('aba')).toBe(true);
    expect(compileGlob('a*ba*a')('aba')).toBe(false);
    expect(compileGlob('orders')('orders')).toBe(true);
    expect(compileGlob('orders')('orders2')).toBe(false);
    expect(compileGlob('*')('')).toBe(true);
  });
});
