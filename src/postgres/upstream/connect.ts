import { lookup } from 'node:dns/promises';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import type { OwnListeners } from '../../core/services/own-listeners.js';
import { SelfUpstreamError } from '../../core/services/self-upstream.js';
import { parseBackend } from '../wire/backend-parser.js';
import { Framer } from '../wire/framer.js';
import { AUTH, ProtocolViolation, type BackendMessage } from '../wire/messages.js';
import { frontend } from '../wire/serializer.js';
import { scramClient, type ScramClient } from './scram.js';
import type { PostgresTarget } from './target.js';

// One upstream backend for one client session (session pooling, as
// PgBouncer's session mode): connected to an address checked against
// Latchkey's own listeners, authenticated with the binding's credential
// (trust, cleartext, md5 or SCRAM-SHA-256), and brought to its first
// ReadyForQuery with the session pinned by `setup`.

export interface UpstreamSession {
  readonly socket: Socket;
  /** Frames past the setup, cut by the same framer (maximum size included). */
  readonly framer: Framer;
  readonly processId: number;
  readonly secretKey: number;
  /** ParameterStatus values the upstream reported (server_version, encodings, ...), for the client. */
  readonly parameters: ReadonlyMap<string, string>;
  readonly address: { readonly host: string; readonly port: number };
}

export interface ConnectOptions {
  readonly target: PostgresTarget;
  readonly own: OwnListeners;
  /** The upstream role's password; null: none (trust). */
  readonly password: string | null;
  /** Startup parameters beyond user and database (client_encoding pinned to UTF8). */
  readonly parameters: ReadonlyMap<string, string>;
  /** SQL run before the client's first statement (search_path, read-only); simple protocol. */
  readonly setup: string;
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
}

/** Why an upstream could not be used; the message never holds the password. */
export class UpstreamFailure extends Error {
  constructor(message: string, readonly kind: 'unreachable' | 'timeout' | 'refused') {
    super(message);
  }
}

export async function connectUpstream(options: ConnectOptions): Promise<UpstreamSession> {
  const { target } = options;
  const address = await checkedAddress(target, options.own);
  const socket = connectTcp({ host: address, port: target.port });
  socket.setNoDelay(true);
  const framer = new Framer({ startup: false, maxBytes: options.maxMessageBytes });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<UpstreamSession>((resolve, reject) => {
      timer = setTimeout(() => reject(new UpstreamFailure(`upstream ${target.hostname}:${target.port} did not become ready within ${options.timeoutMs} ms`, 'timeout')), options.timeoutMs);
      const handshake = new Handshake(options, socket, framer, address);
      socket.on('connect', () => socket.write(frontend.startup(new Map([['user', target.user], ['database', target.database], ...options.parameters]))));
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of framer.push(chunk)) {
            const done = handshake.step(parseBackend(frame));
            if (done !== null) {
              socket.removeAllListeners('data');
              socket.removeAllListeners('error');
              socket.removeAllListeners('close');
              // Frames after the last ReadyForQuery cannot come before the client sends something.
              return resolve(done);
            }
          }
        } catch (err) {
          reject(err instanceof UpstreamFailure ? err : new UpstreamFailure(`upstream ${target.hostname}:${target.port}: ${(err as Error).message}`, 'refused'));
        }
      });
      socket.on('error', (err: NodeJS.ErrnoException) => reject(new UpstreamFailure(`upstream ${target.hostname}:${target.port} unreachable (${err.code ?? 'error'})`, 'unreachable')));
      socket.on('close', () => reject(new UpstreamFailure(`upstream ${target.hostname}:${target.port} closed the connection`, 'unreachable')));
    });
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function checkedAddress(target: PostgresTarget, own: OwnListeners): Promise<string> {
  const hostname = target.hostname!;
  const addresses = isIP(hostname) !== 0 ? [hostname] : (await lookup(hostname, { all: true }).catch(() => [])).map((entry) => entry.address);
  if (addresses.length === 0) throw new UpstreamFailure(`upstream host ${hostname} does not resolve`, 'unreachable');
  for (const address of addresses) {
    const listener = own.listenerAt(address, target.port);
    if (listener !== null) throw new UpstreamFailure(new SelfUpstreamError(listener, `${hostname}:${target.port}`).message, 'refused');
  }
  return addresses[0]!;
}

/** The startup conversation, one backend message at a time; returns the session at the setup's ReadyForQuery. */
class Handshake {
  readonly #options: ConnectOptions;
  readonly #socket: Socket;
  readonly #framer: Framer;
  readonly #address: string;
  readonly #parameters = new Map<string, string>();
  #processId = 0;
  #secretKey = 0;
  #scram: ScramClient | null = null;
  #setupSent = false;
  #failed: string | null = null;

  constructor(options: ConnectOptions, socket: Socket, framer: Framer, address: string) {
    this.#options = options;
    this.#socket = socket;
    this.#framer = framer;
    this.#address = address;
  }

  step(message: BackendMessage): UpstreamSession | null {
    switch (message.name) {
      case 'authentication':
        this.#authenticate(message.method, message.data);
        return null;
      case 'backendKeyData':
        this.#processId = message.processId;
        this.#secretKey = message.secretKey;
        return null;
      case 'parameterStatus':
        this.#parameters.set(message.parameter, message.value);
        return null;
      case 'error': {
        const text = `${message.fields.get('C') ?? ''} ${message.fields.get('M') ?? ''}`.trim();
        if (!this.#setupSent) throw new UpstreamFailure(`upstream refused the gateway's login: ${text}`, 'refused');
        this.#failed = text;
        return null;
      }
      case 'readyForQuery':
        if (this.#failed !== null) throw new UpstreamFailure(`upstream refused the session setup: ${this.#failed}`, 'refused');
        if (!this.#setupSent) {
          this.#setupSent = true;
          this.#socket.write(frontend.query(this.#options.setup));
          return null;
        }
        return {
          socket: this.#socket, framer: this.#framer, processId: this.#processId, secretKey: this.#secretKey,
          parameters: this.#parameters, address: { host: this.#address, port: this.#options.target.port },
        };
      default:
        return null;
    }
  }

  #authenticate(method: number, data: Buffer): void {
    const { password, target } = this.#options;
    if (method === AUTH.ok) return;
    if (password === null) throw new UpstreamFailure('upstream asks for a password and the binding has no credential', 'refused');
    switch (method) {
      case AUTH.cleartext:
        this.#socket.write(frontend.password(password));
        return;
      case AUTH.md5:
        if (data.length !== 4) throw new ProtocolViolation('md5 request without its salt');
        this.#socket.write(frontend.md5Password(target.user, password, data));
        return;
      case AUTH.sasl: {
        const mechanisms = data.toString('utf8').split('\0');
        if (!mechanisms.includes('SCRAM-SHA-256')) throw new UpstreamFailure('upstream offers no SASL mechanism the gateway speaks', 'refused');
        this.#scram = scramClient(password);
        this.#socket.write(frontend.saslInitial('SCRAM-SHA-256', this.#scram.initial));
        return;
      }
      case AUTH.saslContinue:
        if (this.#scram === null) throw new ProtocolViolation('SASL continue before SASL start');
        this.#socket.write(frontend.saslResponse(this.#scram.respond(data.toString('utf8'))));
        return;
      case AUTH.saslFinal:
        if (this.#scram === null) throw new ProtocolViolation('SASL final before SASL start');
        this.#scram.verify(data.toString('utf8'));
        return;
      default:
        throw new UpstreamFailure(`upstream asks for authentication method ${method}, which the gateway does not speak`, 'refused');
    }
  }
}
