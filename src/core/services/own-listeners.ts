import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { parseAddress, type ParsedAddress } from '../tokens/cidr.js';

// Latchkey's own listeners (admin API, gateway, per-service ports, ops,
// PostgreSQL gateway), so that no service can name one as its upstream: a
// data-plane token would otherwise reach the admin API or /metrics from
// addresses the admin token's CIDR list refuses. Filled as listeners bind
// (the real port, not port 0) and read at every upstream connect.

interface TcpListener {
  readonly what: string;
  readonly port: number;
  /** null: a wildcard (0.0.0.0, ::) or a name that is not an address, so any local address on the port. */
  readonly address: string | null;
}

/** `v4:<n>` or `v6:<groups>`; IPv4-mapped IPv6 is the IPv4 key, so `::ffff:127.0.0.1` is 127.0.0.1. */
function keyOf(address: ParsedAddress): string {
  return 'v4' in address ? `v4:${address.v4}` : `v6:${address.v6.join(':')}`;
}

function isLoopback(address: ParsedAddress): boolean {
  if ('v4' in address) return address.v4 >>> 24 === 127;
  const g = address.v6;
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0 && g[6] === 0 && g[7] === 1;
}

/** 0.0.0.0 and :: as a destination reach the local host (Linux connects them to loopback). */
function isUnspecified(address: ParsedAddress): boolean {
  return 'v4' in address ? address.v4 === 0 : address.v6.every((g) => g === 0);
}

export class OwnListeners {
  readonly #tcp: TcpListener[] = [];
  readonly #sockets = new Map<string, string>();

  /**
   * `host` as bound (`server.address().address`) or as configured. A host
   * name other than localhost counts as every local address: it cannot be
   * resolved here synchronously, and refusing too much beats a loop back.
   */
  add(what: string, host: string, port: number): void {
    const bare = host.replace(/^\[|\]$/g, '');
    const parsed = parseAddress(bare);
    if (bare.toLowerCase() === 'localhost') {
      this.#tcp.push({ what, port, address: keyOf(parseAddress('127.0.0.1')!) }, { what, port, address: keyOf(parseAddress('::1')!) });
    } else if (parsed === undefined || isUnspecified(parsed)) {
      this.#tcp.push({ what, port, address: null });
    } else {
      this.#tcp.push({ what, port, address: keyOf(parsed) });
    }
  }

  addSocket(what: string, path: string): void {
    this.#sockets.set(resolve(path), what);
  }

  /** Which listener connecting to this IP address and port would reach, or null. */
  listenerAt(ip: string, port: number): string | null {
    const parsed = parseAddress(ip.replace(/^\[|\]$/g, ''));
    if (parsed === undefined) return null;
    const key = keyOf(parsed);
    let local: boolean | undefined;
    for (const listener of this.#tcp) {
      if (listener.port !== port) continue;
      if (listener.address === key || isUnspecified(parsed)) return listener.what;
      if (listener.address === null) {
        local ??= isLocal(parsed, key);
        if (local) return listener.what;
      }
    }
    return null;
  }

  /** Which listener this Unix socket path (already resolved with realpath) is, or null. */
  socketAt(realPath: string): string | null {
    return this.#sockets.get(realPath) ?? null;
  }
}

/** Loopback, unspecified, or an address of one of this host's interfaces (read each time: interfaces change). */
function isLocal(address: ParsedAddress, key: string): boolean {
  if (isLoopback(address) || isUnspecified(address)) return true;
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      const own = parseAddress(entry.address);
      if (own !== undefined && keyOf(own) === key) return true;
    }
  }
  return false;
}
