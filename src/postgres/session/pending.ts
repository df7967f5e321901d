import type { DecisionContext } from '../../core/decision.js';
import type { Undo } from './statements.js';

// What the gateway has sent the upstream and not yet seen answered, in order,
// so that each backend frame is matched to the message it answers: a
// refusal's substitute (whose error is replaced by the gateway's), a
// statement's audit (closed with its rows), an optimistic change to undo if
// the upstream refuses or skips it.

export type PendingKind = 'query' | 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync';

export interface Pending {
  readonly kind: PendingKind;
  /** The gateway's refusal sent in place of the upstream's error; null for an allowed message. */
  readonly refusal: Buffer | null;
  /** The audit of an allowed Query or Execute, recorded when it completes. */
  readonly decision: DecisionContext | null;
  readonly undo: Undo | null;
  rows: number | null;
  failed: boolean;
}

export function pending(kind: PendingKind, options: { refusal?: Buffer; decision?: DecisionContext; undo?: Undo } = {}): Pending {
  return { kind, refusal: options.refusal ?? null, decision: options.decision ?? null, undo: options.undo ?? null, rows: null, failed: false };
}

/** A FIFO without shifting an array on every frame. */
export class PendingQueue {
  #items: Pending[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: Pending): void {
    this.#items.push(item);
  }

  peek(): Pending | undefined {
    return this.#items[this.#head];
  }

  shift(): Pending | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head] = undefined as unknown as Pending;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
