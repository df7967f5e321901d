import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AlertRaiser } from '../alerts/index.js';
import type { DataPlane } from '../core/data-plane.js';
import type { ReasonCode } from '../errors/index.js';
import { CancelKeys } from './session/cancel.js';
import type { SessionDeps } from './session/deps.js';
import { PROTOCOL_VIOLATION, refusal } from './session/refusal.js';
import { Session } from './session/session.js';
import { Startup } from './session/startup.js';
import type { PostgresTls } from './tls.js';
import { DEFAULT_MAX_MESSAGE_BYTES, Framer } from './wire/framer.js';
import { ProtocolViolation } from './wire/messages.js';
import { backend } from './wire/serializer.js';

// The PostgreSQL gateway's listener (127.0.0.1:7702 by default): one Startup
// per connection until its first ReadyForQuery, then one Session relaying to
// its own upstream backend. A client that does not finish startup in time is
// closed; a frame that cannot be read ends its connection with 08P01.
//
// With a certificate (`tls`), an SSLRequest is answered `S` and the rest of the
// connection is read from a TLS socket over it. Bytes the client sent after its
// SSLRequest without waiting for the `S` would have been written before the
// handshake by someone else than the TLS peer (CVE-2021-23214's injection):
// they end the connection with 08P01 instead of being read as startup.

export interface PostgresGatewayOptions {
  readonly plane: DataPlane;
  readonly listen: { readonly host: string; readonly port: number };
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Largest frame accepted from a client or an upstream. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Time to finish startup (password included). Default 10,000 ms. */
  readonly startupTimeoutMs?: number;
  /** Time for the upstream to become ready. Default 10,000 ms. */
  readonly connectTimeoutMs?: number;
  /** Where a honeytoken presented as a password is raised (`honeytoken_used`). */
  readonly alerts?: AlertRaiser;
  /** The listener's certificate (loadPostgresTls); without it SSLRequest is answered `N` and only loopback clients may log in. */
  readonly tls?: PostgresTls;
}

export interface PostgresGateway {
  readonly address: { readonly host: string; readonly port: number };
  /** Open sessions, for tests and metrics. */
  readonly sessions: number;
  close(): Promise<void>;
}

export async function startPostgresGateway(options: PostgresGatewayOptions): Promise<PostgresGateway> {
  const deps: SessionDeps = {
    plane: options.plane,
    logger: options.logger,
    clock: options.clock ?? Date.now,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    cancels: new CancelKeys(),
    alerts: options.alerts,
    tls: options.tls,
  };
  const startupTimeoutMs = options.startupTimeoutMs ?? 10_000;
  const sockets = new Set<Socket>();
  const sessions = new Set<Session>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    accept(deps, socket, startupTimeoutMs, sessions, (secure) => {
      sockets.add(secure);
      secure.on('close', () => sockets.delete(secure));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  options.plane.ownListeners.add('postgres gateway', bound.address, bound.port);
  return {
    address,
    get sessions() {
      return sessions.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.end('upstream_unreachable', 'the gateway is shutting down');
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function accept(deps: SessionDeps, raw: Socket, startupTimeoutMs: number, sessions: Set<Session>, track: (secure: TLSSocket) => void): void {
  const framer = new Framer({ startup: true, maxBytes: deps.maxMessageBytes });
  const startup = new Startup(deps, raw);
  /** The client's connection as the gateway reads it: `raw`, or the TLS socket over it. */
  let socket: Socket = raw;
  let phase: 'startup' | 'password' | 'authenticating' | 'session' = 'startup';
  let session: Session | null = null;
  const timer = setTimeout(() => socket.destroy(), startupTimeoutMs);
  timer.unref();
  const violation = (err: unknown): void => {
    if (session !== null) return session.fail(err);
    clearTimeout(timer);
    const protocol = err instanceof ProtocolViolation;
    if (!protocol) deps.logger.error({ err }, 'postgres startup failed');
    const reason: ReasonCode = protocol ? (err.oversize ? 'body_too_large' : 'invalid_request') : 'internal_error';
    const text = protocol ? err.message : 'internal error';
    void deps.plane.core.log.recordListenerRefusal(socket.remoteAddress, 'startup', text.slice(0, 128), reason).then(() => {
      socket.end(backend.error('FATAL', protocol ? PROTOCOL_VIOLATION : 'XX000', `latchkey: ${reason}: ${text}`));
    });
    phase = 'authenticating';
    socket.pause();
  };
  const onFrames = (chunk: Buffer): void => {
    try {
      if (session !== null) return session.receive(framer.push(chunk));
      let frames = framer.push(chunk);
      while (frames.length > 0 && phase !== 'authenticating') {
        const frame = frames[0]!;
        if (phase === 'startup') {
          const step = startup.packet(frame);
          if (step.kind === 'tls') {
            if (frames.length > 1 || framer.buffered > 0) throw new ProtocolViolation('bytes arrived after the SSLRequest before the TLS handshake');
            return encrypt(deps.tls!);
          }
          if (step.kind === 'answer') socket.write(step.bytes);
          else if (step.kind === 'close' || step.kind === 'refuse') {
            // Nothing more is read from this connection.
            phase = 'authenticating';
            if (step.kind === 'close') return void socket.end();
            // Refused before a token was asked for (clear text where it may not travel): audited, then answered.
            const client = socket;
            return void deps.plane.core.log.recordListenerRefusal(client.remoteAddress, 'startup', step.why, 'invalid_request').then(() => client.end(step.bytes));
          }
          else {
            phase = 'password';
            framer.startup = false;
            socket.write(backend.authenticationCleartext());
          }
          frames = framer.push(Buffer.alloc(0));
          continue;
        }
        phase = 'authenticating';
        socket.pause();
        const rest = frames.slice(1);
        void startup.password(frame).then((result) => {
          if ('refused' in result) {
            const { decision, refused } = result;
            if (decision.honeyId !== null) {
              deps.alerts?.raise('honeytoken_used', { via: 'postgres', client: decision.client, tokenId: decision.honeyId, service: decision.service?.name ?? null, database: startup.database });
            }
            deps.plane.core.log.record(decision, 'deny', refused);
            deps.plane.core.log.release(decision);
            return deps.plane.core.log.durable(decision).then(() => void socket.end(refusal('FATAL', refused, decision.detail)));
          }
          clearTimeout(timer);
          if (socket.destroyed) {
            result.upstream.socket.destroy();
            deps.plane.core.log.release(result.decision);
            return;
          }
          deps.plane.core.log.record(result.decision, 'allow', 'allowed');
          const key = deps.cancels.register({ ...result.upstream.address, processId: result.upstream.processId, secretKey: result.upstream.secretKey });
          const current: Session = new Session(deps, socket, result, result.service.sqlFunctions, () => {
            sessions.delete(current);
            deps.cancels.unregister(key.processId);
          });
          session = current;
          sessions.add(current);
          socket.on('close', () => current.close());
          const hello: Buffer[] = [backend.authenticationOk()];
          for (const [name, value] of result.upstream.parameters) hello.push(backend.parameterStatus(name, value));
          hello.push(backend.backendKeyData(key.processId, key.secretKey), backend.readyForQuery('I'));
          // The session's first answer waits for its audit event, as every answer does.
          return deps.plane.core.log.durable(result.decision).then((ok) => {
            if (!ok && !deps.plane.core.log.failsOpen) return current.end('audit_unavailable');
            socket.write(Buffer.concat(hello));
            socket.resume();
            if (rest.length > 0) current.receive(rest);
          });
        }).catch(violation);
        return;
      }
    } catch (err) {
      violation(err);
    }
  };
  const encrypt = (tls: PostgresTls): void => {
    raw.off('data', onFrames);
    raw.write(backend.acceptEncryption());
    const secure = new TLSSocket(raw, { isServer: true, secureContext: tls.context });
    track(secure);
    secure.on('error', () => secure.destroy());
    secure.on('close', () => raw.destroy());
    socket = secure;
    startup.encrypted(secure);
    secure.on('data', onFrames);
  };
  socket.on('data', onFrames);
}
