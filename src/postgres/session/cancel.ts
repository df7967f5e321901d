import { randomBytes, timingSafeEqual } from 'node:crypto';
import { connect } from 'node:net';
import { frontend } from '../wire/serializer.js';

// CancelRequest: the client holds the gateway's own key data, never the
// upstream's; a cancel naming a live session's key is sent on to that
// session's backend with the upstream's key. Keys are compared in constant time.

export interface UpstreamKey {
  readonly host: string;
  readonly port: number;
  readonly processId: number;
  readonly secretKey: number;
}

interface Registered {
  readonly secret: Buffer;
  readonly upstream: UpstreamKey;
}

export class CancelKeys {
  readonly #sessions = new Map<number, Registered>();

  /** A fresh key for a session, mapped to its backend; returns the client's processId and secret. */
  register(upstream: UpstreamKey): { processId: number; secretKey: number } {
    let processId: number;
    do processId = randomBytes(4).readInt32BE(0) & 0x7fffffff;
    while (processId === 0 || this.#sessions.has(processId));
    const secret = randomBytes(4);
    this.#sessions.set(processId, { secret, upstream });
    return { processId, secretKey: secret.readInt32BE(0) };
  }

  unregister(processId: number): void {
    this.#sessions.delete(processId);
  }

  /** Sends the cancel to the matching backend; false when no session holds this key. */
  cancel(processId: number, secretKey: number): boolean {
    const registered = this.#sessions.get(processId);
    const given = Buffer.alloc(4);
    given.writeInt32BE(secretKey, 0);
    if (registered === undefined || !timingSafeEqual(given, registered.secret)) return false;
    const { host, port, processId: pid, secretKey: key } = registered.upstream;
    const socket = connect({ host, port }, () => socket.end(frontend.cancel(pid, key)));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(5000, () => socket.destroy());
    return true;
  }
}
