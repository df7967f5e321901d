import { Transform, type TransformCallback } from 'node:stream';

// Server-sent events, one event at a time: for a response that must be
// filtered (a list), each complete event's `data:` is handed to `rewrite` and
// the event is sent on at once, so a stream is never held back whole. An
// event larger than the limit cuts the stream (fail closed: unfiltered bytes
// are never sent).

const MAX_EVENT = 8 * 1024 * 1024;

export class SseRewriter extends Transform {
  #pending = '';
  readonly #rewrite: (data: string) => string;

  constructor(rewrite: (data: string) => string) {
    super();
    this.#rewrite = rewrite;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending += chunk.toString('utf8');
    const out: string[] = [];
    for (;;) {
      const end = eventEnd(this.#pending);
      if (end === null) break;
      out.push(this.#event(this.#pending.slice(0, end.at)), this.#pending.slice(end.at, end.at + end.length));
      this.#pending = this.#pending.slice(end.at + end.length);
    }
    if (this.#pending.length > MAX_EVENT) return callback(new Error('a server-sent event is larger than the gateway filters'));
    callback(null, out.length === 0 ? undefined : out.join(''));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#pending === '' ? undefined : this.#event(this.#pending));
  }

  #event(text: string): string {
    const lines = text.split(/\r\n|\n|\r/);
    const data: string[] = [];
    const others: string[] = [];
    for (const line of lines) {
      if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      else others.push(line);
    }
    if (data.length === 0) return text;
    const rewritten = this.#rewrite(data.join('\n'));
    return [...others, ...rewritten.split('\n').map((line) => `data: ${line}`)].join('\n');
  }
}

/** Where the first event ends: the blank line after it (any of the three line endings). */
function eventEnd(text: string): { at: number; length: number } | null {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(text);
  return match === null ? null : { at: match.index, length: match[0].length };
}
