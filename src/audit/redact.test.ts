import { describe, expect, test } from 'vitest';
import { generateToken } from '../token/format.js';
import { REDACTED, redactEvent, redactHeaders, redactText, redactValue } from './redact.js';
import { adminInput, decisionInput } from './tamper.contract.js';

describe('redaction', () => {
  const token = generateToken('prod');

  test('replaces Latchkey tokens, even truncated ones, wherever they appear in a string', () => {
    expect(redactText(`/v1/x?t=${token}&y=1`)).toBe(`/v1/x?t=${REDACTED}&y=1`);
    expect(redactText(`${token.slice(0, 30)}`)).toBe(REDACTED);
    expect(redactText(generateToken('staging2'))).toBe(REDACTED);
  });

  test('keeps what is not a secret: display hints, prose, short words after a scheme name', () => {
    for (const text of ['lk_prod_…abcd', 'basic read access for CI', 'bearer tokens are refused', '/v1/orders/42', 'lk_prod_short']) {
      expect(redactText(text)).toBe(text);
    }
  });

  test('replaces bearer and basic credentials', () => {
    expect(redactText('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x')).toBe(`Authorization: ${REDACTED}`);
    expect(redactText('bearer ghp_0123456789abcdef')).toBe(REDACTED);
    expect(redactText('Basic YWxpY2U6czNjcmV0')).toBe(REDACTED);
  });

  test('credential headers are replaced whatever they hold', () => {
    expect(
      redactHeaders({ Authorization: 'x', cookie: 'sid=1', 'X-Latchkey-Token-Id': 'tok_1', accept: 'application/json', 'x-forwarded': [`a ${token}`] }),
    ).toEqual({ Authorization: REDACTED, cookie: REDACTED, 'X-Latchkey-Token-Id': REDACTED, accept: 'application/json', 'x-forwarded': [`a ${REDACTED}`] });
  });

  test('clean events pass through as the same object; dirty ones are copied, deeply', () => {
    const clean = decisionInput(1);
    expect(redactEvent(clean)).toBe(clean);
    const admin = adminInput(2);
    const dirty = { ...admin, detail: { ...admin.detail, after: { list: [{ note: `leaked ${token}` }], headers: { Cookie: 'a=b' } } } };
    const redacted = redactEvent(dirty);
    expect(redacted).not.toBe(dirty);
    expect(JSON.stringify(redacted)).not.toContain(token);
    expect(redacted.detail).toMatchObject({ after: { list: [{ note: `leaked ${REDACTED}` }], headers: { Cookie: REDACTED } } });
    expect(JSON.stringify(dirty)).toContain(token);
  });

  test('a value nested without bound is cut rather than walked forever', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { deep };
    expect(JSON.stringify(redactValue(deep))).toContain(REDACTED);
  });
});
