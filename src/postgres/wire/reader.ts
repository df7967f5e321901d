import { ProtocolViolation } from './messages.js';

// Bounds-checked reads over one frame's body: every read checks the bytes are
// there, strings must be NUL-terminated valid UTF-8, and `end()` proves the
// body was consumed exactly, so what was read is all that is forwarded.

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  readonly #buffer: Buffer;
  #offset: number;
  readonly #end: number;

  constructor(buffer: Buffer, start = 0, end = buffer.length) {
    this.#buffer = buffer;
    this.#offset = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  #need(bytes: number): void {
    if (bytes < 0 || this.#offset + bytes > this.#end) throw new ProtocolViolation('message shorter than its contents');
  }

  byte(): number {
    this.#need(1);
    return this.#buffer[this.#offset++]!;
  }

  int16(): number {
    this.#need(2);
    const value = this.#buffer.readInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  int32(): number {
    this.#need(4);
    const value = this.#buffer.readInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  bytes(length: number): Buffer {
    this.#need(length);
    const slice = this.#buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }

  skip(length: number): void {
    this.#need(length);
    this.#offset += length;
  }

  /** A NUL-terminated string; invalid UTF-8 is refused (a replacement character would change what was analyzed). */
  cstring(): string {
    const nul = this.#buffer.indexOf(0, this.#offset);
    if (nul === -1 || nul >= this.#end) throw new ProtocolViolation('string without its terminator');
    let text: string;
    try {
      text = UTF8.decode(this.#buffer.subarray(this.#offset, nul));
    } catch {
      throw new ProtocolViolation('string is not valid UTF-8');
    }
    this.#offset = nul + 1;
    return text;
  }

  /** The body must have been read to its last byte. */
  end(): void {
    if (this.#offset !== this.#end) throw new ProtocolViolation('message longer than its contents');
  }
}
