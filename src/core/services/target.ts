// Upstream addresses are parsed once, when the service table loads.

export interface UpstreamTarget {
  /** Origin for the connection pool: `http://host:port`, `https://host:port`, or `http://localhost` for a Unix socket. */
  readonly origin: string;
  readonly socketPath: string | null;
  /** The host as written, without IPv6 brackets, and the port (80/443 when none is written); null/0 for a Unix socket. */
  readonly hostname: string | null;
  readonly port: number;
  readonly tls: boolean;
  /** Prefix of every forwarded path, without a trailing slash (`''` for the root). */
  readonly basePath: string;
  /** The pool key: one pool per origin and socket. */
  readonly key: string;
}

/** `http://host:port/base`, `https://host:port/base`, or `unix:/path/to.sock:/base` (base optional). */
export function parseUpstream(text: string): UpstreamTarget {
  if (text.startsWith('unix:')) {
    const match = /^unix:(\/[^:]+)(?::(\/[^?#]*))?$/.exec(text);
    if (match === null) throw new Error(`invalid unix upstream ${JSON.stringify(text)}; expected unix:/path.sock:/base`);
    const socketPath = match[1]!;
    return { origin: 'http://localhost', socketPath, hostname: null, port: 0, tls: false, basePath: trimBase(match[2] ?? ''), key: `unix:${socketPath}` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`invalid upstream URL ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported upstream scheme ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new Error('upstream URLs must not carry credentials; use a credential source');
  if (url.search !== '' || url.hash !== '') throw new Error('upstream URLs must not have a query or fragment');
  const tls = url.protocol === 'https:';
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  return { origin: url.origin, socketPath: null, hostname, port, tls, basePath: trimBase(url.pathname), key: url.origin };
}

function trimBase(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}
