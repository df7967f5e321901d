import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens are stored only as HMAC-SHA256 under a server key, so a stolen
 * database does not yield usable tokens nor allow offline guessing without the key.
 */
export class TokenHasher {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('the token hashing key must be at least 32 bytes');
    this.#key = Buffer.from(key);
  }

  hash(token: string): string {
    return createHmac('sha256', this.#key).update(token).digest('hex');
  }

  /** Constant-time check of a presented token against a stored hash. */
  matches(token: string, storedHash: string): boolean {
    const expected = Buffer.from(storedHash, 'hex');
    const actual = createHmac('sha256', this.#key).update(token).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }
}
