import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SseRewriter } from './sse.js';

async function rewriteAll(chunks: string[], rewrite: (data: string) => string): Promise<string> {
  let out = '';
  for await (const chunk of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new SseRewriter(rewrite))) out += String(chunk);
  return out;
}

describe('SseRewriter', () => {
  it('rewrites each event whole, even split across chunks, and keeps the other fields and comments', async () => {
    const out = await rewriteAll(['id: 1\nevent: mess', 'age\ndata: {"a"', ':1}\n\n: keepalive\n\nid: 2\r\ndata: {"b":2}\r\n\r\n'], (data) => data.toUpperCase());
    expect(out).toBe('id: 1\nevent: message\ndata: {"A":1}\n\n: keepalive\n\nid: 2\ndata: {"B":2}\r\n\r\n');
  });

  it('sends each complete event at once, before the stream ends', async () => {
    const rewriter = new SseRewriter((data) => data);
    const seen: string[] = [];
    rewriter.on('data', (chunk) => seen.push(String(chunk)));
    rewriter.write(Buffer.from('data: first\n\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.join('')).toBe('data: first\n\n');
    rewriter.end();
  });

  it('cuts the stream rather than pass an event it could not filter', async () => {
    await expect(rewriteAll(['data: {"x":'], () => {
      throw new Error('not JSON');
    })).rejects.toThrow('not JSON');
  });
});
