import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { AuditEvent, AuditEventInput } from './event.js';

/** The previous hash of the first event in a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** SHA-256 over the canonical form of everything in the event but its own hash. */
export function hashEvent(seq: number, prevHash: string, input: AuditEventInput): string {
  const body = canonicalJson({ seq, prevHash, kind: input.kind, time: input.time, detail: input.detail });
  return createHash('sha256').update(body).digest('hex');
}

/** Links a batch onto a chain whose head is (headSeq, headHash). */
export function linkEvents(headSeq: number, headHash: string, inputs: readonly AuditEventInput[]): AuditEvent[] {
  const out: AuditEvent[] = [];
  let seq = headSeq;
  let prev = headHash;
  for (const input of inputs) {
    seq += 1;
    const hash = hashEvent(seq, prev, input);
    out.push({ ...input, seq, prevHash: prev, hash } as AuditEvent);
    prev = hash;
  }
  return out;
}
