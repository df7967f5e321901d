import { CHECKSUM_LENGTH, RANDOM_LENGTH } from '../token/format.js';
import { displayHint, parseToken } from '../token/index.js';
import type { RawFinding } from './finding.js';

// Finds Latchkey tokens in a byte stream fed chunk by chunk, with line and
// column, without ever holding more than one chunk plus a token's length.
// The checksum is checked by parseToken, so look-alikes cost no lookup.

const PREFIX = Buffer.from('lk_');
const BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH;
const NEWLINE = 0x0a;
/** Shortest body still worth calling a look-alike: shorter runs are ordinary identifiers. */
const LOOK_ALIKE_MIN_BODY = 20;
/** A look-alike body is read at most this far, so a run of base62 cannot grow the carry without bound. */
const MAX_RUN = 64;
/** How far back from the end of a window a candidate may start and still be seen whole. */
const CARRY = 3 + 12 + 1 + MAX_RUN + 1;

const BASE62 = new Uint8Array(256);
for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz') BASE62[c.charCodeAt(0)] = 1;
const ENV_HEAD = new Uint8Array(256);
for (let c = 0x61; c <= 0x7a; c++) ENV_HEAD[c] = 1;
const ENV_TAIL = new Uint8Array(256);
for (let c = 0x61; c <= 0x7a; c++) ENV_TAIL[c] = 1;
for (let c = 0x30; c <= 0x39; c++) ENV_TAIL[c] = 1;

/** Characters (not UTF-8 continuation bytes) in buf[from, to). */
function charsIn(buf: Buffer, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if ((buf[i]! & 0xc0) !== 0x80) count++;
  return count;
}

export class TokenFinder {
  readonly #file: string;
  readonly #all: boolean;
  readonly #onFinding: (finding: RawFinding) => void;
  #carry: Buffer = Buffer.alloc(0);
  /** The byte before the current window, for the word-boundary check at its start. */
  #before = 0;
  #line = 1;
  /** Characters from the start of the current line to the start of the current window. */
  #carriedChars = 0;
  #bytes = 0;

  constructor(file: string, onFinding: (finding: RawFinding) => void, options: { readonly all?: boolean } = {}) {
    this.#file = file;
    this.#all = options.all === true;
    this.#onFinding = onFinding;
  }

  /** Bytes fed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  feed(chunk: Buffer): void {
    this.#bytes += chunk.length;
    const window = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    this.#scan(window, Math.max(0, window.length - CARRY));
  }

  end(): void {
    if (this.#carry.length > 0) this.#scan(this.#carry, this.#carry.length);
    this.#carry = Buffer.alloc(0);
  }

  /** Examines every candidate starting before `limit`; the rest of the window is carried into the next. */
  #scan(window: Buffer, limit: number): void {
    let cursor = 0; // newlines counted up to here
    let lineStart = -1; // index in window of the current line's first byte, -1 when before the window
    let at = window.indexOf(PREFIX);
    while (at !== -1 && at < limit) {
      const previous = at === 0 ? this.#before : window[at - 1]!;
      const end = BASE62[previous] === 1 ? -1 : this.#candidateEnd(window, at);
      if (end !== -1) {
        for (let nl = window.indexOf(NEWLINE, cursor); nl !== -1 && nl < at; nl = window.indexOf(NEWLINE, nl + 1)) {
          this.#line++;
          lineStart = nl + 1;
        }
        cursor = at;
        const text = window.toString('latin1', at, end);
        const token = parseToken(text);
        if (token !== undefined || this.#all) {
          const col = 1 + (lineStart === -1 ? this.#carriedChars + charsIn(window, 0, at) : charsIn(window, lineStart, at));
          this.#onFinding({ file: this.#file, line: this.#line, col, hint: displayHint(text), lookAlike: token === undefined, token: text });
        }
      }
      at = window.indexOf(PREFIX, at + 1);
    }
    // Count the rest of the examined region, and carry the characters of its last line.
    for (let nl = window.indexOf(NEWLINE, cursor); nl !== -1 && nl < limit; nl = window.indexOf(NEWLINE, nl + 1)) {
      this.#line++;
      lineStart = nl + 1;
    }
    this.#carriedChars = lineStart === -1 ? this.#carriedChars + charsIn(window, 0, limit) : charsIn(window, lineStart, limit);
    if (limit > 0) this.#before = window[limit - 1]!;
    this.#carry = limit >= window.length ? Buffer.alloc(0) : Buffer.from(window.subarray(limit));
  }

  /**
   * `lk_<env>_<base62 run>` ending at a non-base62 byte: the index after it, or -1.
   * A run of exactly the token's length is a candidate; other runs of base62 long
   * enough to look like one are look-alikes.
   */
  #candidateEnd(window: Buffer, at: number): number {
    let i = at + 3;
    if (ENV_HEAD[window[i] ?? 0] !== 1) return -1;
    const envEnd = Math.min(window.length, i + 12);
    i++;
    while (i < envEnd && ENV_TAIL[window[i]!] === 1) i++;
    if (window[i] !== 0x5f) return -1;
    const bodyStart = ++i;
    const runEnd = Math.min(window.length, bodyStart + MAX_RUN);
    while (i < runEnd && BASE62[window[i]!] === 1) i++;
    const body = i - bodyStart;
    if (i < window.length && (BASE62[window[i]!] === 1 || window[i] === 0x5f)) return -1; // part of a longer word
    if (body === BODY_LENGTH) return i;
    return this.#all && body >= LOOK_ALIKE_MIN_BODY ? i : -1;
  }
}
