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
      expect(value.startsWith('x'.repeat(limit)), field).toBe(true);
      expect(value, field).toBe(`${'x'.repeat(limit)}…[truncated, ${limit * 10 + 7} chars]`);
    }
    expect(JSON.stringify(bounded).length).toBeLessThan(4096);
  });

  test('a detail within its limits is returned as is (no copy)', () => {
    expect(boundDecision(clean)).toBe(clean);
  });

  test('a cut never splits a surrogate pair', () => {
    const text = `${'a'.repeat(9)}😀tail`;
    const cut = truncated(text, 10);
    expect(cut.startsWith('a'.repeat(9) + '…')).toBe(true);
    expect(cut.endsWith(`[truncated, ${text.length} chars]`)).toBe(true);
  });
});
