import { lookup as lookupCallback, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import type { OwnListeners } from './own-listeners.js';
import type { UpstreamTarget } from './target.js';

// An upstream that is one of Latchkey's own listeners is refused twice: when
// the binding is written (by the addresses its host resolves to then) and at
// every connect (a name can resolve differently later), where the addresses
// checked are the very ones connected to.

/** The connect error of a refused upstream; the forward stage answers it as upstream_unreachable. */
export class SelfUpstreamError extends Error {
  readonly code = 'LATCHKEY_SELF_UPSTREAM';
  constructor(readonly listener: string, readonly address: string) {
    super(`upstream ${address} is Latchkey's own ${listener} listener`);
  }
}

/** RFC 6761: localhost and its subdomains are loopback whatever a resolver says. */
function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Which of Latchkey's listeners the host and port reach, by every address the
 * host resolves to now; null when none (or when the name does not resolve:
 * the gateway checks again when it connects).
 */
export async function ownListenerAt(hostname: string, port: number, own: OwnListeners): Promise<string | null> {
  const addresses: string[] = [];
  if (isIP(hostname) !== 0) addresses.push(hostname);
  else {
    if (isLocalhostName(hostname)) addresses.push('127.0.0.1', '::1');
    const resolved = await lookup(hostname, { all: true }).catch(() => [] as LookupAddress[]);
    for (const entry of resolved) addresses.push(entry.address);
  }
  for (const address of addresses) {
    const listener = own.listenerAt(address, port);
    if (listener !== null) return listener;
  }
  return null;
}

/** The same question for a Unix socket path, by its real path. */
export async function ownSocketAt(path: string, own: OwnListeners): Promise<string | null> {
  const real = await realpath(path).catch(() => path);
  return own.socketAt(real);
}

export interface GuardedConnectorOptions {
  readonly timeoutMs: number;
  readonly tls?: { readonly rejectUnauthorized: true; readonly ca?: string | Buffer | (string | Buffer)[] };
  /** Told of each refusal, to log it (no secret is at hand here). */
  readonly onRefused: (err: SelfUpstreamError) => void;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * An undici connector for one upstream that refuses, before any byte is sent,
 * a connection to one of Latchkey's own listeners: an address literal is
 * checked as it stands, a name through a lookup that checks every address it
 * returns, so the connection goes only to addresses that were checked.
 */
export function guardedConnector(target: UpstreamTarget, own: OwnListeners, options: GuardedConnectorOptions): buildConnector.connector {
  const refuse = (err: SelfUpstreamError): SelfUpstreamError => {
    options.onRefused(err);
    return err;
  };
  const port = target.port;
  const checkedLookup = (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    lookupCallback(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, []);
      const all = isLocalhostName(hostname) ? [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }, ...addresses] : addresses;
      for (const entry of all) {
        const listener = own.listenerAt(entry.address, port);
        if (listener !== null) return callback(refuse(new SelfUpstreamError(listener, `${hostname} (${entry.address}):${port}`)), []);
      }
      if (lookupOptions.all === true) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const base = buildConnector({
    timeout: options.timeoutMs,
    ...(target.socketPath !== null ? { socketPath: target.socketPath } : { lookup: checkedLookup }),
    ...(options.tls ?? {}),
  } as buildConnector.BuildOptions);
  return (connectOptions, callback) => {
    if (target.socketPath !== null) {
      ownSocketAt(target.socketPath, own).then((listener) => {
        if (listener !== null) callback(refuse(new SelfUpstreamError(listener, `unix:${target.socketPath}`)), null);
        else base(connectOptions, callback);
      }, (err: Error) => callback(err, null));
      return;
    }
    const hostname = connectOptions.hostname.replace(/^\[|\]$/g, '');
    if (isIP(hostname) !== 0) {
      const listener = own.listenerAt(hostname, port);
      if (listener !== null) return callback(refuse(new SelfUpstreamError(listener, `${hostname}:${port}`)), null);
    }
    base(connectOptions, callback);
  };
}
