import { compileCidrs, parseAddress, type CidrSet } from '../../core/tokens/cidr.js';

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

  trusts(address: string): boolean {
    if (this.#trusted === null) return false;
    const parsed = parseAddress(address);
    return parsed !== undefined && this.#trusted.contains(parsed);
  }

  /** The client's address as text; CIDR checks parse it only for tokens that have a list. */
  resolve(socketAddress: string | undefined, forwardedFor: string | null): string {
    const peer = unmapped(socketAddress ?? '');
    if (this.#trusted === null || forwardedFor === null) return peer;
    const peerParsed = parseAddress(peer);
    if (peerParsed === undefined || !this.#trusted.contains(peerParsed)) return peer;
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
    return client;
  }
}

/**
 * The `X-Forwarded-For` the upstream receives: the chain a trusted proxy
 * reported plus the socket peer, or only the peer, so an upstream that reads
 * it never sees an address the client made up.
 */
export function forwardedForUpstream(resolver: ClientAddressResolver, socketAddress: string | undefined, forwardedFor: string | null): string {
  const peer = unmapped(socketAddress ?? '');
  return forwardedFor !== null && resolver.trusts(peer) ? `${forwardedFor}, ${peer}` : peer;
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
