import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DECISION_FIELD_LIMITS } from './bound.js';
import { canonicalJson } from './canonical.js';
import { GENESIS_HASH, hashEvent, linkEvents, linkForStore, storedForm } from './chain.js';
import type { AuditEvent, AuditEventInput } from './event.js';
import { REDACTED } from './redact.js';
import { adminInput, decisionInput } from './tamper.contract.js';

// The linking as it was before the one-serialization fast path: every event
// through storedForm, hashed by hashEvent. The fast path must give the same
// events, hashes included, for any input.
function referenceLink(headSeq: number, headHash: string, inputs: readonly AuditEventInput[]): AuditEvent[] {
  let prev = headHash;
  return inputs.map((raw, i) => {
    const input = storedForm(raw);
    const hash = hashEvent(headSeq + i + 1, prev, input);
    const event = { ...input, seq: headSeq + i + 1, prevHash: prev, hash } as AuditEvent;
    prev = hash;
    return event;
  });
}

// Field values a gateway could be handed: clean text, tokens, scheme credentials, prose that only looks like one, over-long paths.
const fieldText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('lk_prod_0123456789abcdefXYZ', 'Bearer abc.def-123', 'basic permissions', 'BASIC dXNlcjpwYXNz', 'x lk_ y'),
  fc.string({ minLength: 1000, maxLength: 1300 }),
);
const extraKeys = fc.dictionary(
  fc.constantFrom('authorization', 'X-Latchkey-Token', 'cookie', 'override', 'count', 'note', 'Set-Cookie'),
  fc.oneof(fieldText, fc.constant(null), fc.integer(), fc.record({ authorization: fieldText, path: fieldText })),
  { maxKeys: 3 },
);

const decisions = fc.array(
  fc.tuple(fc.nat(1000), fc.record({ resource: fieldText, client: fieldText, tokenName: fc.option(fieldText), matched: fc.option(fieldText) }), extraKeys),
  { minLength: 1, maxLength: 8 },
);

describe('linkForStore', () => {
  test('links exactly as storedForm then hashEvent would, and keeps the canonical JSON that was hashed', () => {
    fc.assert(
      fc.property(decisions, fc.boolean(), (cases, withAdmin) => {
        const inputs: AuditEventInput[] = cases.map(([i, fields, extra]) => {
          const base = decisionInput(i);
          return { ...base, detail: { ...base.detail, ...fields, ...extra } } as AuditEventInput;
        });
        if (withAdmin) inputs.push(adminInput(7));
        const linked = linkForStore(41, 'ab'.repeat(32), inputs);
        const expected = referenceLink(41, 'ab'.repeat(32), inputs);
        expect(linked.events).toEqual(expected);
        for (let i = 0; i < expected.length; i++) {
          expect(linked.details[i]).toBe(canonicalJson(expected[i]!.detail));
          expect(JSON.parse(linked.details[i]!)).toEqual(expected[i]!.detail);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('each bounded field at its limit is kept whole, and one character over it is cut, as storedForm does', () => {
    const base = decisionInput(1);
    const inputs: AuditEventInput[] = [];
    for (const [field, limit] of Object.entries(DECISION_FIELD_LIMITS)) {
      for (const length of [limit, limit + 1]) inputs.push({ ...base, detail: { ...base.detail, [field]: 'a'.repeat(length) } } as AuditEventInput);
    }
    const { events, details } = linkForStore(0, GENESIS_HASH, inputs);
    expect(events).toEqual(referenceLink(0, GENESIS_HASH, inputs));
    expect(details).toEqual(events.map((event) => canonicalJson(event.detail)));
    for (let i = 0; i < inputs.length; i += 2) {
      expect(events[i]!.detail).toBe(inputs[i]!.detail);
      expect(JSON.stringify(events[i + 1]!.detail)).toContain('…[truncated,');
    }
  });

  test('the fast path still redacts and bounds: a token in a path, a credential header, an over-long resource', () => {
    const base = decisionInput(1);
    const inputs = [
      { ...base, detail: { ...base.detail, resource: '/v1/x/lk_prod_0123456789abcdefXYZ' } },
      { ...base, detail: { ...base.detail, authorization: 'anything at all' } },
      { ...base, detail: { ...base.detail, resource: `/${'a'.repeat(5000)}` } },
      base,
    ] as AuditEventInput[];
    const { events, details } = linkForStore(0, GENESIS_HASH, inputs);
    expect(events.map((e) => e.detail)).toEqual([
      { ...base.detail, resource: `/v1/x/${REDACTED}` },
      { ...base.detail, authorization: REDACTED },
      { ...base.detail, resource: expect.stringContaining('…[truncated, 5001 chars]') },
      base.detail,
    ]);
    expect(details.some((text) => text.includes('lk_prod_') || text.includes('anything at all'))).toBe(false);
    expect(events).toEqual(linkEvents(0, GENESIS_HASH, inputs));
  });
});
