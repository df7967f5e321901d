import type { Socket } from 'node:net';
import type { DecisionLog } from '../../core/decision-log.js';
import type { ReasonCode } from '../../errors/index.js';
import { parseBackend, rowsOf } from '../wire/backend-parser.js';
import type { Frame } from '../wire/messages.js';
import { PendingQueue, type Pending } from './pending.js';
import type { SessionStatements, Undo } from './statements.js';

// Upstream → client. Each backend frame is matched to the message it answers
// (the pending queue): an error answering a refusal's substitute is replaced
// by the gateway's refusal, a CommandComplete gives the rows for the audit,
// and a ReadyForQuery closes everything up to its Sync (or Query), undoing
// statement changes the upstream skipped. A ReadyForQuery waits until the
// audit events of what it ends are durable.

export interface RelayOptions {
  readonly client: Socket;
  readonly upstream: { readonly socket: Socket; readonly framer: { push(chunk: Buffer): Frame[] } };
  readonly log: DecisionLog;
  readonly statements: SessionStatements;
  readonly onFatal: (reason: ReasonCode, detail?: string) => void;
}

/** Frames that belong to the statement being answered and pass unchanged. */
const PASS = new Set([0x44, 0x47, 0x48, 0x57, 0x64, 0x63, 0x4e, 0x41, 0x53, 0x74]); // D G H W d c N A S t

export class BackendRelay {
  readonly #options: RelayOptions;
  readonly #queue = new PendingQueue();
  #recorded = false;
  #closed = false;
  #held: { frames: Frame[]; index: number } | null = null;

  constructor(options: RelayOptions) {
    this.#options = options;
    const { upstream, client } = options;
    upstream.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    upstream.socket.on('error', () => {});
    upstream.socket.on('close', () => {
      if (!this.#closed) options.onFatal('upstream_unreachable', 'the upstream closed the connection');
    });
    client.on('drain', () => upstream.socket.resume());
  }

  expect(item: Pending): void {
    this.#queue.push(item);
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#options.upstream.framer.push(chunk);
    } catch (err) {
      return this.#options.onFatal('upstream_unreachable', `the upstream sent a frame the gateway cannot read (${(err as Error).message})`);
    }
    if (this.#held !== null) {
      this.#held.frames.push(...frames);
      return;
    }
    this.#relay(frames, 0);
  }

  #relay(frames: Frame[], start: number): void {
    const { client, upstream, log } = this.#options;
    client.cork();
    try {
      for (let i = start; i < frames.length; i++) {
        if (this.#closed) return;
        const frame = frames[i]!;
        if (frame.type === 0x5a && this.#recorded && !log.failsOpen) {
          // The answer's end waits for its audit events: hold this and whatever follows.
          this.#recorded = false;
          this.#held = { frames, index: i };
          upstream.socket.pause();
          void log.durable().then((ok) => {
            const held = this.#held!;
            this.#held = null;
            if (!ok) return this.#options.onFatal('audit_unavailable');
            upstream.socket.resume();
            this.#frame(held.frames[held.index]!);
            this.#relay(held.frames, held.index + 1);
          });
          return;
        }
        this.#frame(frame);
      }
    } finally {
      client.uncork();
    }
    if (client.writableNeedDrain) upstream.socket.pause();
  }

  #frame(frame: Frame): void {
    const { client } = this.#options;
    const type = frame.type;
    if (PASS.has(type)) return void client.write(frame.bytes);
    const head = this.#queue.peek();
    switch (type) {
      case 0x31: case 0x32: case 0x33: case 0x6e: // ParseComplete, BindComplete, CloseComplete, NoData
        this.#complete(null, false);
        break;
      case 0x54: // RowDescription: ends a Describe; inside a Query it is the query's
        if (head?.kind === 'describe') this.#complete(null, false);
        break;
      case 0x43: { // CommandComplete
        const message = parseBackend(frame);
        const rows = message.name === 'commandComplete' ? rowsOf(message.tag) : null;
        if (head !== undefined && rows !== null) head.rows = (head.rows ?? 0) + rows;
        if (head?.kind === 'execute') this.#complete(head.rows, false);
        break;
      }
      case 0x49: case 0x73: // EmptyQueryResponse, PortalSuspended
        if (head?.kind === 'execute') this.#complete(head.rows, false);
        break;
      case 0x45: // ErrorResponse
        if (head?.refusal !== null && head?.refusal !== undefined) {
          head.failed = true;
          client.write(head.refusal);
          if (head.kind !== 'query') this.#complete(null, true);
          return;
        }
        if (head !== undefined) {
          head.failed = true;
          if (head.kind !== 'query' && head.kind !== 'sync') this.#complete(head.rows, true);
        }
        break;
      case 0x5a: // ReadyForQuery: ends its Query or Sync and everything the upstream skipped before it
        this.#ready();
        break;
      default:
        // Authentication or key data after startup: not an upstream the gateway understands.
        return this.#options.onFatal('upstream_unreachable', `the upstream sent an unexpected message 0x${type.toString(16)}`);
    }
    client.write(frame.bytes);
  }

  #complete(rows: number | null, failed: boolean): void {
    const item = this.#queue.shift();
    if (item === undefined) return;
    if (failed && item.undo !== null) this.#options.statements.undo(item.undo);
    this.#record(item, rows);
  }

  #ready(): void {
    const skipped: Undo[] = [];
    for (;;) {
      const item = this.#queue.shift();
      if (item === undefined) break;
      if (item.kind === 'query' || item.kind === 'sync') {
        this.#record(item, item.rows);
        break;
      }
      if (item.undo !== null) skipped.push(item.undo);
      this.#record(item, null);
    }
    for (let i = skipped.length - 1; i >= 0; i--) this.#options.statements.undo(skipped[i]!);
  }

  #record(item: Pending, rows: number | null): void {
    const decision = item.decision;
    if (decision === null) return;
    decision.resource = `${decision.resource}${rows === null ? '' : ` rows=${rows}`}${item.failed ? ' failed' : ''}`;
    this.#options.log.record(decision, 'allow', 'allowed');
    this.#recorded = true;
  }

  /** Statements still unanswered are audited as they stand. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) this.#record(item, item.rows);
  }
}
