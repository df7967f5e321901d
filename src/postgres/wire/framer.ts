import { ProtocolViolation, type Frame } from './messages.js';

// Cuts a byte stream into frames (pg-protocol's framing), both directions.
// A length below its header or above the maximum is a violation before a
// single byte of the body is buffered, so a peer cannot make the gateway hold
// more than one maximum-size frame.

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export class Framer {
  readonly #maxBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  /** True until the startup packet (no type byte) has been read. */
  #startup: boolean;

  constructor(options: { readonly maxBytes?: number; readonly startup: boolean }) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#startup = options.startup;
  }

  /** After an SSLRequest or GSSENCRequest answered `N`, or once startup is done. */
  set startup(value: boolean) {
    this.#startup = value;
  }

  get buffered(): number {
    return this.#pending.length;
  }

  /** The complete frames of `chunk` (with what was left from before); throws ProtocolViolation. */
  push(chunk: Buffer): Frame[] {
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    let offset = 0;
    for (;;) {
      const header = this.#startup ? 4 : 5;
      if (data.length - offset < header) break;
      const type = this.#startup ? 0 : data[offset]!;
      const length = data.readInt32BE(offset + header - 4);
      const minimum = this.#startup ? 8 : 4;
      if (length < minimum) throw new ProtocolViolation(`message length ${length} is below the minimum`);
      if (length > this.#maxBytes) throw new ProtocolViolation(`message of ${length} bytes exceeds the maximum of ${this.#maxBytes}`, true);
      const total = length + header - 4;
      if (data.length - offset < total) break;
      frames.push({ type, bytes: data.subarray(offset, offset + total), bodyStart: header });
      offset += total;
      // A startup phase frame is followed by an answer before the next one is framed.
      if (this.#startup) break;
    }
    this.#pending = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
    return frames;
  }
}
