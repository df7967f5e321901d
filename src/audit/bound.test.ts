import { describe, expect, test } from 'vitest';
import { boundDecision, DECISION_FIELD_LIMITS, truncated } from './bound.js';
import type { DecisionDetail } from './event.js';

const clean: DecisionDetail = {
  node: 'gw-1', tokenId: 'tok_1', tokenName: 'ci deploy', env: 'prod', service: 'orders', action: 'GET', resource: '/v1/orders',
  decision: 'deny', reason: 'token_missing', matched: null, upstreamStatus: null, latencyMs: 0.2, client: '127.0.0.1',
};

describe('bounded decision fields', () => {
  test('every client-influenced field is cut at its limit, with a marker giving the original length', () => {
    const long = Object.fromEntries(Object.entries(DECISION_FIELD_LIMITS).map(([field, limit]) => [field, 'x'.repeat(limit * 10 + 7)]));
    const bounded = boundDecision({ ...clean, ...long } as DecisionDetail) as unknown as Record<string, string>;
    for (const [field, limit] of Object.entries(DECISION_FIELD_LIMITS)) {
      const value = bounded[field]!;
      const marker = `…[truncated, ${limit * 10 + 7} chars]`;
      expect(value.length, field).toBeLessThanOrEqual(limit);
      expect(value, field).toBe(`${'x'.repeat(limit - marker.length)}${marker}`);
      // Cutting again changes nothing.
      expect(boundDecision({ ...clean, [field]: value } as DecisionDetail)).toEqual({ ...clean, [field]: value });
    }
    expect(JSON.stringify(bounded).length).toBeLessThan(4096);
  });

  test('a detail within its limits is returned as is (no copy)', () => {
    expect(boundDecision(clean)).toBe(clean);
  });

  test('a cut never splits a surrogate pair', () => {
    const text = `${'a'.repeat(29)}😀${'b'.repeat(40)}`;
    const cut = truncated(text, 30 + `…[truncated, ${text.length} chars]`.length);
    expect(cut.startsWith('a'.repeat(29) + '…')).toBe(true);
    expect(cut.endsWith(`[truncated, ${text.length} chars]`)).toBe(true);
  });
});
