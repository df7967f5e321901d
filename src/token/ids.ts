import { randomBytes } from 'node:crypto';

/** Public identifiers (not secrets): `tok_` + 20 hex characters. */
export function newTokenId(): string {
  return `tok_${randomBytes(10).toString('hex')}`;
}
