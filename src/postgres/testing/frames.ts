import { connect, type Socket } from 'node:net';
import { parseBackend } from '../wire/backend-parser.js';
import { Framer } from '../wire/framer.js';
import type { BackendMessage, Frame } from '../wire/messages.js';
import { frontend } from '../wire/serializer.js';
import { Writer } from '../wire/writer.js';

// Fixture builders for frames a client sends (pg-protocol's tests build
// theirs the same way), and a raw client that writes exactly those bytes and
// reads the answers frame by frame: pipelining, odd orders, broken frames.

export const build = {
  startup: (parameters: Record<string, string>): Buffer => frontend.startup(new Map(Object.entries(parameters))),
  password: frontend.password,
  query: frontend.query,
  parse: (statement: string, sql: string): Buffer => frontend.parse(statement, sql),
  bind: (portal: string, statement: string, values: readonly (string | null)[] = []): Buffer => {
    const writer = new Writer(0x42).cstring(portal).cstring(statement).int16(0).int16(values.length);
    for (const value of values) {
      if (value === null) writer.int32(-1);
      else writer.int32(Buffer.byteLength(value)).bytes(Buffer.from(value));
    }
    return writer.int16(0).finish();
  },
  describe: (target: 'S' | 'P', name: string): Buffer => new Writer(0x44).byte(target.charCodeAt(0)).cstring(name).finish(),
  execute: (portal = '', maxRows = 0): Buffer => new Writer(0x45).cstring(portal).int32(maxRows).finish(),
  close: (target: 'S' | 'P', name: string): Buffer => new Writer(0x43).byte(target.charCodeAt(0)).cstring(name).finish(),
  sync: (): Buffer => new Writer(0x53).finish(),
  flush: (): Buffer => new Writer(0x48).finish(),
  terminate: frontend.terminate,
  sslRequest: (): Buffer => new Writer(null).int32(80877103).finish(),
  gssEncRequest: (): Buffer => new Writer(null).int32(80877104).finish(),
  cancel: frontend.cancel,
};

export interface Received {
  readonly frame: Frame;
  readonly message: BackendMessage;
}

export class RawClient {
  readonly socket: Socket;
  readonly received: Received[] = [];
  /** Bytes outside framing (the `N` answering SSLRequest). */
  readonly bytes: Buffer[] = [];
  #framer = new Framer({ startup: false, maxBytes: 64 * 1024 * 1024 });
  #raw = false;
  #waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.#raw) {
        this.bytes.push(chunk);
      } else {
        for (const frame of this.#framer.push(chunk)) this.received.push({ frame, message: parseBackend(frame) });
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects and logs in with `token` to `database`, up to the first ReadyForQuery. */
  static async login(port: number, token: string, database: string): Promise<RawClient> {
    const client = await RawClient.open(port);
    client.send(build.startup({ user: 'job', database }));
    await client.until((r) => r.some((x) => x.message.name === 'authentication'));
    client.send(build.password(token));
    await client.until((r) => r.some((x) => x.message.name === 'readyForQuery' || x.message.name === 'error'));
    return client;
  }

  /** Reads unframed bytes (an answer to SSLRequest) until framing is asked for again. */
  set raw(value: boolean) {
    this.#raw = value;
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Waits until `done` holds for what was received (or the connection closed), at most `timeoutMs`. */
  async until(done: (received: readonly Received[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.received.map((r) => r.message.name).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `count` more ReadyForQuery messages than are there now, and returns what came with them. */
  async roundTrip(count: number, ...frames: Buffer[]): Promise<Received[]> {
    const start = this.received.length;
    const ready = () => this.received.slice(start).filter((r) => r.message.name === 'readyForQuery').length;
    this.send(...frames);
    await this.until(() => ready() >= count);
    return this.received.slice(start);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The names of what came back, errors as `error:<SQLSTATE>`, ReadyForQuery as `ready:<status>`. */
export function summary(received: readonly Received[]): string[] {
  return received.map(({ message, frame }) => {
    if (message.name === 'error') return `error:${message.fields.get('C')}`;
    if (message.name === 'readyForQuery') return `ready:${message.status}`;
    if (message.name === 'commandComplete') return `complete:${message.tag}`;
    if (message.name === 'other') return String.fromCharCode(frame.type);
    return message.name;
  });
}
