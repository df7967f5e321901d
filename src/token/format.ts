import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

// lk_<env>_<32 random base62><6 base62 of CRC32(everything before)>.
// The checksum lets the gateway and the scanner reject look-alikes with no lookup.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
export const ENV_PATTERN = /^[a-z][a-z0-9]{0,11}$/;
const TOKEN_PATTERN = /^lk_([a-z][a-z0-9]{0,11})_([0-9A-Za-z]{38})$/;
/** Longest possible token: `lk_` + 12 + `_` + 38. Anything longer is malformed before any work. */
export const MAX_TOKEN_LENGTH = 3 + 12 + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH;

export interface ParsedToken {
  readonly env: string;
  readonly text: string;
}

function randomBase62(length: number): string {
  // Rejection sampling: 62 * 4 = 248, so bytes >= 248 are dropped to keep every character uniform.
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function checksumOf(prefix: string): string {
  let value = crc32(prefix);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

export function generateToken(env: string): string {
  if (!ENV_PATTERN.test(env)) throw new Error(`invalid environment name ${JSON.stringify(env)}`);
  const prefix = `lk_${env}_${randomBase62(RANDOM_LENGTH)}`;
  return prefix + checksumOf(prefix);
}

/** Returns the parsed token, or undefined when its shape or checksum is wrong. */
export function parseToken(text: string): ParsedToken | undefined {
  if (text.length > MAX_TOKEN_LENGTH) return undefined;
  const match = TOKEN_PATTERN.exec(text);
  if (match === null) return undefined;
  const cut = text.length - CHECKSUM_LENGTH;
  if (checksumOf(text.slice(0, cut)) !== text.slice(cut)) return undefined;
  return { env: match[1]!, text };
}

/** What may be shown of a token after creation: its environment and last four characters. */
export function displayHint(token: string): string {
  const env = token.slice(3, token.indexOf('_', 3));
  return `lk_${env}_…${token.slice(-4)}`;
}
