import { hash } from 'node:crypto';
import { canonicalFlat, canonicalJson, type FlatSchema } from './canonical.js';
import type { AuditEvent, AuditEventInput, DecisionDetail } from './event.js';
import { boundEvent, DECISION_FIELD_LIMITS } from './bound.js';
import { DECISION_KEYS, mayHoldSecret, redactEvent } from './redact.js';

/** The previous hash of the first event in a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The text SHA-256 is taken over: the canonical form of seq, prevHash, kind, time and detail. */
function hashedBody(seq: number, prevHash: string, kind: string, time: number, detailJson: string, prevIsHex = HEX_HASH.test(prevHash)): string {
  // canonicalJson({ seq, prevHash, kind, time, detail }) with its keys already in canonical order, written out.
  // The common case needs no escaping or number checks: a known kind, a hex hash, whole-number seq and time.
  if ((kind === 'decision' || kind === 'admin') && prevIsHex && Number.isSafeInteger(seq) && Number.isSafeInteger(time)) {
    return `{"detail":${detailJson},"kind":"${kind}","prevHash":"${prevHash}","seq":${seq},"time":${time}}`;
  }
  return `{"detail":${detailJson},"kind":${canonicalJson(kind)},"prevHash":${canonicalJson(prevHash)},"seq":${canonicalJson(seq)},"time":${canonicalJson(time)}}`;
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** SHA-256 over the canonical form of everything in the event but its own hash. */
export function hashEvent(seq: number, prevHash: string, input: AuditEventInput): string {
  const body =
    seq === undefined || prevHash === undefined || input.kind === undefined || input.time === undefined || input.detail === undefined
      ? canonicalJson({ seq, prevHash, kind: input.kind, time: input.time, detail: input.detail })
      : hashedBody(seq, prevHash, input.kind, input.time, canonicalJson(input.detail));
  // crypto.hash: one call, no Hash object; about twice as fast for inputs this small.
  return hash('sha256', body, 'hex');
}

/**
 * What is stored of an event: secrets redacted, then every client-influenced
 * field bounded (in that order, so that a cut cannot leave part of a secret
 * the pattern no longer sees). Once hashed an event cannot be scrubbed
 * without breaking the chain, so this runs here, where every event — a
 * gateway decision from the recorder or an admin change from inside a store
 * transaction — is linked.
 */
export function storedForm(input: AuditEventInput): AuditEventInput {
  return boundEvent(redactEvent(input));
}

/** A decision detail's fields, and the longest each may be stored (bound.ts). */
const DECISION_SCHEMA: FlatSchema = { keys: DECISION_KEYS, maxLength: DECISION_FIELD_LIMITS };

/**
 * The canonical JSON of a decision detail when its stored form is the detail
 * itself, else undefined. This is storedForm's clean case decided on the one
 * serialization the hash needs anyway: redaction changes only strings that
 * match MAYBE_SECRET (a match in any string is a match in the JSON, which
 * escapes none of those letters) and values under credential-header keys (so
 * every key must be a decision field and every value flat), and bounding
 * changes only over-long fields (which the serializer refuses). Anything else
 * takes the full path.
 */
function cleanDecisionJson(detail: DecisionDetail): string | undefined {
  const json = canonicalFlat(detail as unknown as Record<string, unknown>, DECISION_SCHEMA);
  return json === undefined || mayHoldSecret(json) ? undefined : json;
}

/** A batch linked for a store: the events, and each one's detail as the canonical JSON that was hashed. */
export interface LinkedBatch {
  readonly events: AuditEvent[];
  readonly details: string[];
}

/**
 * Links a batch onto a chain whose head is (headSeq, headHash), each event in
 * its stored form, keeping the canonical JSON of each detail: a store writes
 * that text, so each event is serialized once (and reading it back with
 * JSON.parse gives the same detail).
 */
export function linkForStore(headSeq: number, headHash: string, inputs: readonly AuditEventInput[]): LinkedBatch {
  const events: AuditEvent[] = [];
  const details: string[] = [];
  let seq = headSeq;
  let prev = headHash;
  // Every hash after the head's is one sha256 wrote in hex: only the head's needs looking at.
  let prevIsHex = HEX_HASH.test(prev);
  for (const raw of inputs) {
    seq += 1;
    let input = raw;
    let json = raw.kind === 'decision' ? cleanDecisionJson(raw.detail) : undefined;
    if (json === undefined) input = storedForm(raw);
    // An event missing a member is hashed as hashEvent hashes it (the member left out); no store accepts it.
    if (input.kind === undefined || input.time === undefined || input.detail === undefined) {
      const hash = hashEvent(seq, prev, input);
      events.push({ ...input, seq, prevHash: prev, hash } as AuditEvent);
      details.push(JSON.stringify(input.detail));
      prev = hash;
      prevIsHex = true;
      continue;
    }
    json ??= canonicalJson(input.detail);
    const hash = sha256(hashedBody(seq, prev, input.kind, input.time, json, prevIsHex));
    events.push({ kind: input.kind, time: input.time, detail: input.detail, seq, prevHash: prev, hash } as AuditEvent);
    details.push(json);
    prev = hash;
    prevIsHex = true;
  }
  return { events, details };
}

/** Links a batch onto a chain whose head is (headSeq, headHash), each event in its stored form. */
export function linkEvents(headSeq: number, headHash: string, inputs: readonly AuditEventInput[]): AuditEvent[] {
  return linkForStore(headSeq, headHash, inputs).events;
}

function sha256(body: string): string {
  return hash('sha256', body, 'hex');
}
