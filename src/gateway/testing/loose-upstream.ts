import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real loopback upstream that routes the way lenient servers do, so attack
// tests can show what a loosely matched path reaches: case-insensitive like
// Express's default router and ASP.NET (ASP.NET folds with ToUpperInvariant,
// so `ı` is `I` and `ſ` is `S`), trailing dots and spaces dropped like IIS, and
// a format suffix ignored like Rails (`/admin.json` is `/admin`).

export interface LooseRouting {
  readonly caseInsensitive: boolean;
  /** IIS: `admin.` and `admin ` are `admin`. */
  readonly stripTrailingDotsAndSpaces: boolean;
  /** Rails: `/v1/admin.json` is `/v1/admin` with format json. */
  readonly ignoreFormatSuffix: boolean;
}

export interface LooseSeen {
  readonly method: string;
  /** The request target exactly as received. */
  readonly url: string;
  /** The route it resolved to, as this upstream folds paths. */
  readonly route: string;
}

export interface LooseUpstream {
  readonly url: string;
  readonly seen: LooseSeen[];
  close(): Promise<void>;
}

/** The path as this upstream resolves it: decoded segments, folded. */
export function looseRoute(target: string, routing: LooseRouting): string {
  const path = target.split('?')[0]!;
  const segments = path.split('/').slice(1).map((raw) => {
    let segment = decodeURIComponent(raw);
    if (routing.caseInsensitive) segment = segment.toUpperCase().toLowerCase();
    if (routing.stripTrailingDotsAndSpaces) segment = segment.replace(/[. ]+$/, '');
    return segment;
  });
  if (routing.ignoreFormatSuffix && segments.length > 0) {
    segments[segments.length - 1] = segments[segments.length - 1]!.replace(/\.[A-Za-z0-9]+$/, '');
  }
  return `/${segments.join('/')}`;
}

export async function startLooseUpstream(routing: LooseRouting): Promise<LooseUpstream> {
  const seen: LooseSeen[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    let route: string;
    try {
      route = looseRoute(url, routing);
    } catch {
      route = '(undecodable)';
    }
    seen.push({ method: req.method ?? '', url, route });
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ route, admin: /^\/api\/v1\/admin(\/|$)/.test(route) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
