import type { AuditEventInput, DecisionDetail } from './event.js';
import type { AuditRecorder } from './recorder.js';

// Refusals made before any token is known (no token, a malformed or unknown
// one, no such service, a request the gateway will not interpret, and what
// Node's parser refuses) cost an attacker nothing, so one client could fill
// the audit log with them. They are counted exactly but not each stored: all
// the refusals of one (service, reason, client) that arrive while the writer
// is busy with the previous batch fold into one event, which carries how many
// it stands for (`count`), when the first came (`firstTime`) and the first as
// its sample. The folded event is in the very next batch, and each refused
// client is answered once that batch is durable, like every other request: a
// kill -9 loses no count. Under a flood the log grows by one event per key
// per batch, not per request. Honeytokens never come here: they are alarms.

export interface RefusalSummaryOptions {
  readonly recorder: Pick<AuditRecorder, 'fold' | 'foldableKeys'>;
  /** Distinct keys folding at once; past it, new keys of a reason share one key with client `*`. */
  readonly maxKeys: number;
  /** Called once per refusal folded into an earlier one, for the metric. */
  readonly onFolded?: (reason: string) => void;
}

/** Stand-in client of the shared key once `maxKeys` distinct keys are folding. */
export const OVERFLOW_CLIENT = '*';

export class RefusalSummaries {
  readonly #options: RefusalSummaryOptions;
  readonly #merge: (queued: AuditEventInput, next: AuditEventInput) => AuditEventInput;

  constructor(options: RefusalSummaryOptions) {
    this.#options = options;
    this.#merge = (queued, next) => {
      const sample = queued.detail as DecisionDetail;
      options.onFolded?.(sample.reason);
      return {
        kind: 'decision',
        time: next.time,
        detail: { ...sample, count: (sample.count ?? 1) + 1, firstTime: sample.firstTime ?? queued.time },
      };
    };
  }

  offer(time: number, detail: DecisionDetail): void {
    const { recorder, maxKeys } = this.#options;
    const overflow = recorder.foldableKeys >= maxKeys;
    const client = overflow ? OVERFLOW_CLIENT : detail.client;
    const key = `${detail.service}\u0000${detail.reason}\u0000${client}`;
    recorder.fold(key, { kind: 'decision', time, detail: overflow ? { ...detail, client } : detail }, this.#merge);
  }
}
