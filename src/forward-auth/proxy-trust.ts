import { createHash, timingSafeEqual } from 'node:crypto';
import { compileCidrs, parseAddress, type CidrSet } from '../core/tokens/cidr.js';

// Whoever can ask the endpoint learns whether a token is valid, and on allow
// receives the upstream credentials of opted-in services: only the configured
// proxy addresses may ask, and, when a secret is configured, only with it.

export const SECRET_HEADER = 'x-latchkey-auth-secret';

export class ProxyTrust {
  readonly #proxies: CidrSet;
  readonly #secret: Buffer | null;

  constructor(trustedProxies: readonly string[], secret: string | null) {
    this.#proxies = compileCidrs(trustedProxies);
    this.#secret = secret === null ? null : digest(secret);
  }

  /** Null when the caller may ask; otherwise why not, in words for its audit event and answer. */
  refusal(peer: string | undefined, presentedSecret: string | string[] | undefined): string | null {
    const address = parseAddress(unmapped(peer ?? ''));
    if (address === undefined || !this.#proxies.contains(address)) return 'the caller is not a configured proxy address';
    if (this.#secret === null) return null;
    if (typeof presentedSecret !== 'string') return `the proxy did not send ${SECRET_HEADER}`;
    // Digests of equal length, so the comparison's time says nothing about the secret's length or content.
    return timingSafeEqual(digest(presentedSecret), this.#secret) ? null : `the proxy sent a wrong ${SECRET_HEADER}`;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
