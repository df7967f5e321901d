import { hashEvent } from './chain.js';
import type { AuditEvent } from './event.js';
import type { AuditFailure, AuditProblem } from './verify.js';

// What kind of tampering a break in the chain looks like. The hash chain
// proves THAT something changed; the kind is read from which links still
// hold around the break, with a look at the events after it:
// - edited:    the event's hash no longer matches its content, but the next
//              event still links to the stored hash (or to the old hash of
//              an event that was rewritten and rehashed);
// - deleted:   a gap in seq, or an event whose hash is right for a later seq
//              (the rest were renumbered to close the gap);
// - inserted:  a later event links past this one to its predecessor;
// - reordered: this event links to one that comes after it.

/** A position in the chain: a real event, or the anchor the first retained event hangs from. */
export interface Link {
  readonly seq: number;
  readonly hash: string;
  readonly virtual: boolean;
}

/** Events read past a break to classify it. */
export const LOOKAHEAD = 10_000;

// A deletion followed by renumbering shows as an event whose hash fits a
// higher seq; look this many seqs up.
const MAX_RENUMBER = 64;

function fail(seq: number, problem: AuditProblem, detail: string): AuditFailure {
  return { ok: false, seq, problem, detail };
}

/**
 * `e` does not follow `p` (and `pp` before it): its seq is not the next,
 * its prevHash is not p's hash, or its own hash is wrong. `lookahead` holds
 * the events after p in seq order, e first.
 */
export function classifyBreak(e: AuditEvent, p: Link, pp: Link | undefined, lookahead: readonly AuditEvent[]): AuditFailure {
  const later = lookahead.filter((f) => f.seq > e.seq);
  const expected = p.seq + 1;
  if (e.seq <= p.seq) {
    return fail(e.seq, e.seq === p.seq ? 'inserted' : 'reordered', `event ${e.seq} appears again after event ${p.seq}`);
  }
  if (e.seq > expected) {
    // The missing event may have been moved (its seq edited) rather than removed.
    const moved = [e, ...later].find((f) => f.prevHash === p.hash && hashEvent(expected, f.prevHash, f) === f.hash);
    if (moved !== undefined) return fail(expected, 'edited', `event ${expected} had its seq changed to ${moved.seq}`);
    const span = e.seq - expected === 1 ? `event ${expected} is` : `events ${expected}..${e.seq - 1} are`;
    return fail(expected, 'deleted', `${span} missing`);
  }

  const recomputed = hashEvent(e.seq, e.prevHash, e);
  const next = later[0];
  if (e.prevHash === p.hash) {
    // The link holds, so the event's own hash is what is wrong.
    if (next?.prevHash === p.hash) {
      return fail(e.seq, 'inserted', `event ${e.seq} was inserted: event ${next.seq} links past it to event ${p.seq}`);
    }
    if (next !== undefined && next.prevHash === recomputed) {
      return fail(e.seq, 'edited', `event ${e.seq} has a stored hash that is not the hash of its content`);
    }
    return fail(e.seq, 'edited', `event ${e.seq} was changed: its content no longer matches its hash`);
  }

  if (pp !== undefined && e.prevHash === pp.hash) {
    return fail(p.seq, 'inserted', `event ${p.seq} was inserted: event ${e.seq} links past it to ${describe(pp)}`);
  }
  const successor = later.find((f) => f.hash === e.prevHash);
  if (successor !== undefined) {
    return fail(e.seq, 'reordered', `event ${e.seq} links to event ${successor.seq}, which comes after it`);
  }
  const over = later.find((f) => f.prevHash === p.hash);
  if (over !== undefined) {
    const span = over.seq - e.seq === 1 ? `event ${e.seq} was` : `events ${e.seq}..${over.seq - 1} were`;
    return fail(e.seq, 'inserted', `${span} inserted: event ${over.seq} links to ${describe(p)}`);
  }
  for (let d = 1; d <= MAX_RENUMBER; d++) {
    if (hashEvent(e.seq + d, e.prevHash, e) === e.hash) {
      return fail(e.seq, 'deleted', `${d} event(s) before seq ${e.seq} were deleted and the rest renumbered`);
    }
  }
  if (recomputed === e.hash && !p.virtual) {
    return fail(p.seq, 'edited', `event ${p.seq} was changed and rehashed: event ${e.seq} still links to its old hash`);
  }
  return fail(e.seq, 'edited', `event ${e.seq} does not link to ${describe(p)}`);
}

function describe(link: Link): string {
  return link.virtual ? (link.seq === 0 ? 'the start of the chain' : `the checkpoint at seq ${link.seq}`) : `event ${link.seq}`;
}
