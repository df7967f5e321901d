import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { buildServer, newProbe, type ServerProbe } from './sdk-server.js';

// The SDK's own HTTP serving entry (createMcpHandler: 2026-07-28, and 2025
// stateless) on plain node:http, through its web-standard fetch face.

export interface McpUpstream {
  readonly url: string;
  readonly probe: ServerProbe;
  /** Every request as it arrived: method, path and headers. */
  readonly seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

export async function startMcpUpstream(): Promise<McpUpstream> {
  const probe = newProbe();
  const handler = createMcpHandler(() => buildServer(probe), { keepAliveMs: 0 });
  const seen: McpUpstream['seen'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      ...(hasBody && { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' }),
    } as RequestInit);
    handler.fetch(request).then(
      async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        if (response.body === null) {
          res.end();
          return;
        }
        res.flushHeaders();
        for await (const chunk of Readable.fromWeb(response.body as never)) res.write(chunk);
        res.end();
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    probe,
    seen,
    close: async () => {
      probe.release();
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
