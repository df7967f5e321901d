// SQLite's lookup spans for the audit events an append leaves without them
// (see sqlite-store.ts #append): one for the whole group of events, and per
// token a span for each run of its events no more than TOKEN_SPAN_GAP seqs
// apart, each giving its first and last seq and its earliest and latest time.
// Built in memory as this process appends, so that writing them costs an
// INSERT per row; the same rows from an INSERT ... SELECT over the events
// (what a store that did not append them all does) took 2.9 ms per group
// of 1,024 events of 97 tokens here, the SELECT alone: 3 µs per event, more
// than a third of what appending it costs.

/**
 * A token's span ends where its next event is further on than this: a read of
 * a token's events then visits at most this many rows per event it finds (one
 * span for all of a rare token's events in a busy group would have it scan the
 * whole group), and a token busy enough to come back within it costs one row
 * per group.
 */
export const TOKEN_SPAN_GAP = 128;

/** first seq, last seq, earliest time, latest time. */
type SpanRow = [number, number, number, number];

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
  /** Each token's spans so far, the last one still open. */
  readonly tokens = new Map<string, SpanRow[]>();

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
    const rows = this.tokens.get(tokenId);
    if (rows === undefined) {
      this.tokens.set(tokenId, [[seq, seq, time, time]]);
      return;
    }
    const open = rows[rows.length - 1]!;
    if (seq - open[1] > TOKEN_SPAN_GAP) rows.push([seq, seq, time, time]);
    else extend(open, seq, time);
  }

  /** The head the added events reach; call once an append's events are all added. */
  reach(headSeq: number, headHash: string): void {
    this.#headSeq = headSeq;
    this.#headHash = headHash;
  }
}
