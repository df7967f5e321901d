import { compileCidrs, parseAddress, type CidrSet, type ParsedAddress } from '../cache/cidr.js';

/** The client as the gateway sees it: text for audit, parsed lazily for CIDR checks. */
export interface ClientAddress {
  readonly text: string;
  parsed(): ParsedAddress | undefined;
}

/**
 * The client address comes from the socket. `X-Forwarded-For` is believed only
 * when the socket peer is a trusted proxy, and then read from the right: the
 * first address not itself a trusted proxy is the client (the left part of the
 * list is whatever the client chose to write).
 */
export class ClientAddressResolver {
  readonly #trusted: CidrSet | null;

  constructor(trustedProxies: readonly string[]) {
    this.#trusted = trustedProxies.length === 0 ? null : compileCidrs(trustedProxies);
  }

  resolve(socketAddress: string | undefined, forwardedFor: string | null): ClientAddress {
    const peer = unmapped(socketAddress ?? '');
    if (this.#trusted === null || forwardedFor === null) return lazy(peer);
    const peerParsed = parseAddress(peer);
    if (peerParsed === undefined || !this.#trusted.contains(peerParsed)) return lazy(peer, peerParsed);
    const hops = forwardedFor.split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapped(hops[i]!.trim());
      const parsed = parseAddress(hop);
      // Garbage in the chain: stop at the last address we could trust.
      if (parsed === undefined) break;
      client = hop;
      if (!this.#trusted.contains(parsed)) break;
    }
    return lazy(client);
  }
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function lazy(text: string, known?: ParsedAddress): ClientAddress {
  let parsed = known;
  return {
    text,
    parsed() {
      if (parsed === undefined) parsed = parseAddress(text);
      return parsed;
    },
  };
}
