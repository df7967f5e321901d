import type { DecisionDetail } from './event.js';
import type { AuditRecorder } from './recorder.js';

// Refusals made before any token is known (no token, a malformed or unknown
// one, no such service, a request the gateway will not interpret, and what
// Node's parser refuses) cost an attacker nothing, so one client could fill
// the audit log with them. They are counted exactly but not each stored:
// per (service, reason, client) and per window, the first is recorded in full
// as usual, and the rest become one summary event at the end of the window
// carrying how many it stands for (`count`), when the first of them came
// (`firstTime`) and one of them as a sample. Stored events + the sum of
// `count` = every such refusal. Honeytokens never come here: they are alarms.
//
// The price: folded refusals live in memory until the window ends, so a crash
// loses at most one window of counts (never an allowed request, never the
// first refusal of a key).

export interface RefusalSummaryOptions {
  readonly recorder: Pick<AuditRecorder, 'record'>;
  /** Length of a window; a summary per key with folded refusals at its end. */
  readonly windowMs: number;
  /** Distinct keys per window; past it, new keys of a reason share one key with client `*`. */
  readonly maxKeys: number;
  readonly clock: () => number;
  /** Called once per folded (not individually stored) refusal, for the metric. */
  readonly onFolded?: (reason: string) => void;
}

interface Pending {
  /** The first folded refusal of the window, stored as the summary's sample. */
  sample: DecisionDetail | null;
  folded: number;
  firstTime: number;
  lastTime: number;
}

/** Stand-in client of the shared key once a window has seen `maxKeys` distinct keys. */
export const OVERFLOW_CLIENT = '*';

export class RefusalSummaries {
  readonly #options: RefusalSummaryOptions;
  #window = new Map<string, Pending>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(options: RefusalSummaryOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.flush(), Math.max(10, options.windowMs));
    this.#timer.unref();
  }

  /** Records the refusal in full when it is the first of its key this window, otherwise counts it. */
  offer(time: number, detail: DecisionDetail): void {
    if (this.#closed) {
      this.#options.recorder.record({ kind: 'decision', time, detail });
      return;
    }
    let key = `${detail.service}\u0000${detail.reason}\u0000${detail.client}`;
    let pending = this.#window.get(key);
    let overflow = false;
    if (pending === undefined && this.#window.size >= this.#options.maxKeys) {
      key = `${detail.service}\u0000${detail.reason}\u0000${OVERFLOW_CLIENT}`;
      pending = this.#window.get(key);
      overflow = true;
    }
    if (pending === undefined) {
      this.#window.set(key, { sample: null, folded: 0, firstTime: time, lastTime: time });
      this.#options.recorder.record({ kind: 'decision', time, detail: overflow ? { ...detail, client: OVERFLOW_CLIENT } : detail });
      return;
    }
    if (pending.sample === null) {
      pending.sample = overflow ? { ...detail, client: OVERFLOW_CLIENT } : detail;
      pending.firstTime = time;
    }
    pending.folded += 1;
    pending.lastTime = time;
    this.#options.onFolded?.(detail.reason);
  }

  /** Ends the window: one summary event per key that folded refusals; the next refusal of any key is stored in full again. */
  flush(): void {
    const window = this.#window;
    if (window.size === 0) return;
    this.#window = new Map();
    for (const pending of window.values()) {
      if (pending.sample === null) continue;
      this.#options.recorder.record({
        kind: 'decision',
        time: pending.lastTime,
        detail: { ...pending.sample, count: pending.folded, firstTime: pending.firstTime },
      });
    }
  }

  /** Writes what the current window holds; later refusals are recorded one by one. Before the recorder closes. */
  close(): void {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.flush();
    this.#closed = true;
  }
}
