// Builds one message: a type byte (or none, for startup packets), a length
// patched in at the end, then the body.

export class Writer {
  #buffer: Buffer;
  #offset: number;
  readonly #typed: boolean;

  constructor(type: number | null, size = 64) {
    this.#buffer = Buffer.allocUnsafe(Math.max(size, 8));
    this.#typed = type !== null;
    if (type !== null) this.#buffer[0] = type;
    this.#offset = this.#typed ? 5 : 4;
  }

  #ensure(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + bytes));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }

  byte(value: number): this {
    this.#ensure(1);
    this.#buffer[this.#offset++] = value;
    return this;
  }

  int16(value: number): this {
    this.#ensure(2);
    this.#buffer.writeInt16BE(value, this.#offset);
    this.#offset += 2;
    return this;
  }

  int32(value: number): this {
    this.#ensure(4);
    this.#buffer.writeInt32BE(value, this.#offset);
    this.#offset += 4;
    return this;
  }

  bytes(value: Buffer): this {
    this.#ensure(value.length);
    value.copy(this.#buffer, this.#offset);
    this.#offset += value.length;
    return this;
  }

  cstring(value: string): this {
    const length = Buffer.byteLength(value);
    this.#ensure(length + 1);
    this.#buffer.write(value, this.#offset, 'utf8');
    this.#offset += length;
    this.#buffer[this.#offset++] = 0;
    return this;
  }

  finish(): Buffer {
    const start = this.#typed ? 1 : 0;
    this.#buffer.writeInt32BE(this.#offset - start, start);
    return this.#buffer.subarray(0, this.#offset);
  }
}
