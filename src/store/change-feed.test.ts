import { describe, expect, it } from 'vitest';
import { newTokenId } from '../token/index.js';
import { MAX_NOTIFY_BYTES, changePayloads } from './change-feed.js';

describe('change payloads', () => {
  it('sends a small change as one payload, unchanged', () => {
    expect(changePayloads({ type: 'role', name: 'reader' })).toEqual(['{"type":"role","name":"reader"}']);
    expect(changePayloads({ type: 'token', ids: ['tok_1', 'tok_2'] })).toEqual(['{"type":"token","ids":["tok_1","tok_2"]}']);
  });

  it('splits a long id list into payloads under the NOTIFY limit that together carry every id once', () => {
    for (const count of [280, 281, 1000, 5003]) {
      const ids = Array.from({ length: count }, () => newTokenId());
      const payloads = changePayloads({ type: 'token', ids });
      for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
      expect(payloads.flatMap((payload) => JSON.parse(payload).ids)).toEqual(ids);
      // Packed full: no payload but the last could have taken the next id too.
      payloads.slice(0, -1).forEach((payload, i) => {
        const next = JSON.parse(payloads[i + 1]!).ids[0] as string;
        expect(Buffer.byteLength(payload) + JSON.stringify(next).length + 1).toBeGreaterThan(MAX_NOTIFY_BYTES);
      });
    }
  });
});
