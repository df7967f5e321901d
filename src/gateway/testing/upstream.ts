import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP server on loopback standing in for an upstream API: it records
// exactly what reached it (method, target, headers, body) so tests assert on
// what the gateway forwarded, and answers WebSocket handshakes by echoing bytes.

export interface SeenRequest {
  readonly method: string;
  /** The request target exactly as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** Replaces how it answers (default: 200 with a small JSON body echoing the path). */
  handle(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

const defaultHandler: UpstreamHandler = (req, res) => {
  const body = JSON.stringify({ ok: true, path: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': 'yes' });
  res.end(body);
};

export async function startUpstream(options: { socketPath?: string; port?: number } = {}): Promise<TestUpstream> {
  let handler = defaultHandler;
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  server.keepAliveTimeout = 10_000;
  const tunnels = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (req, socket) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    // Upgraded sockets are half-open capable; close when the gateway closes its side.
    socket.on('end', () => socket.end());
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0) });
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => {
    if (options.socketPath !== undefined) server.listen(options.socketPath, resolve);
    else server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = options.socketPath === undefined ? (server.address() as AddressInfo).port : 0;
  return {
    url: options.socketPath === undefined ? `http://127.0.0.1:${port}` : `unix:${options.socketPath}`,
    port,
    seen,
    handle(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
