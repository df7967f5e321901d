import { request } from 'node:http';
import type { ForwardAuthEndpoint, ForwardAuthOptions } from '../endpoint.js';
import { startForwardAuth } from '../endpoint.js';
import type { GatewayReply, GatewayWorld } from '../../gateway/testing/world.js';

// The forward-auth endpoint on a gateway test world's data plane, and a
// client that sends raw request targets (no URL normalization on the way).

export async function startEndpoint(world: GatewayWorld, overrides: Partial<ForwardAuthOptions> = {}): Promise<ForwardAuthEndpoint> {
  const endpoint = await startForwardAuth({
    plane: world.gateway.plane,
    listen: { host: '127.0.0.1', port: 0 },
    trustedProxies: ['127.0.0.0/8', '::1/128'],
    secret: null,
    credentialServices: ['orders'],
    logger: world.logger,
    clock: world.clock,
    ...overrides,
  });
  world.onCleanup(() => endpoint.close());
  return endpoint;
}

/** One request to `port` with the target exactly as given (node:http sends it unchanged; undici would resolve `..`). */
export function sendRaw(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<GatewayReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: GatewayReply['json'] = null;
        try {
          json = JSON.parse(text) as GatewayReply['json'];
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
