// SQLite's lookup spans for the audit events an append leaves without them
// (see sqlite-store.ts #append): one for the whole group of events, and one
// per token among them, each giving its first and last seq and its earliest
// and latest time. Built in memory as this process appends, so that writing
// them costs an INSERT per row; an INSERT ... SELECT ... GROUP BY over the
// same events cost about 3 µs per event here, more than the append itself.

/** first seq, last seq, earliest time, latest time. */
export type SpanRow = [number, number, number, number];

function extend(row: SpanRow, seq: number, time: number): void {
  row[1] = seq;
  if (time < row[2]) row[2] = time;
  if (time > row[3]) row[3] = time;
}

/**
 * The spans of every event after `after` up to a head, for a head this
 * process appended: valid only while the log's head is still that one
 * (same seq, same hash), which no other writer and no rolled-back
 * transaction can fake, since the hash chains every event before it.
 */
export class UnspannedEvents {
  readonly after: number;
  #headSeq: number;
  #headHash: string;
  time: SpanRow | null = null;
  readonly tokens = new Map<string, SpanRow>();

  constructor(after: number, headSeq: number, headHash: string) {
    this.after = after;
    this.#headSeq = headSeq;
    this.#headHash = headHash;
  }

  /** Whether these are the spans of every event from `after` to this head. */
  covers(spanned: number, headSeq: number, headHash: string): boolean {
    return this.after === spanned && this.#headSeq === headSeq && this.#headHash === headHash;
  }

  /** Adds the next event, in seq order. */
  add(seq: number, time: number, tokenId: unknown): void {
    if (this.time === null) this.time = [seq, seq, time, time];
    else extend(this.time, seq, time);
    if (typeof tokenId !== 'string') return;
    const row = this.tokens.get(tokenId);
    if (row === undefined) this.tokens.set(tokenId, [seq, seq, time, time]);
    else extend(row, seq, time);
  }

  /** The head the added events reach; call once an append's events are all added. */
  reach(headSeq: number, headHash: string): void {
    this.#headSeq = headSeq;
    this.#headHash = headHash;
  }
}
