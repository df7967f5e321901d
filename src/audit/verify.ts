import type { KeyObject } from 'node:crypto';
import type { AuditCheckpoint, Store } from '../store/store.js';
import { GENESIS_HASH, hashEvent } from './chain.js';
import { toPublicKey, verifyCheckpoint } from './checkpoint.js';
import type { AuditEvent } from './event.js';
import { classifyBreak, LOOKAHEAD, type Link } from './verify-classify.js';

// `audit verify`: walks every retained event in seq order, recomputes each
// hash, follows the prevHash links, checks every checkpoint's signature and
// that the chain passes through each checkpoint's hash, and that the tail
// reaches the newest checkpoint, and (SQLite) that every event is found by its
// token. It names the FIRST seq where anything is wrong, and what kind of
// wrong it looks like (see verify-classify.ts).

export type AuditProblem = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'bad_signature';

export type AuditVerification =
  | {
      readonly ok: true;
      /** Events walked. */
      readonly events: number;
      /** Checkpoints whose signature held (store and external, counted once each). */
      readonly checkpoints: number;
      /** First retained seq (greater than 1 after pruning), or null for an empty log. */
      readonly firstSeq: number | null;
      readonly lastSeq: number;
    }
  | { readonly ok: false; readonly seq: number; readonly problem: AuditProblem; readonly detail: string };

export type AuditFailure = Extract<AuditVerification, { ok: false }>;

export interface VerifyAuditOptions {
  /** The audit key's public half (KeyObject or PEM); a private key works too. */
  readonly publicKey: KeyObject | string;
  /** Checkpoints kept outside the store (readCheckpointFile, webhook receiver). */
  readonly externalCheckpoints?: readonly AuditCheckpoint[];
  /** Events read per query. Default 5,000. */
  readonly pageSize?: number;
}

// Enough for one checkpoint a minute for 19 years; listCheckpoints takes only a limit.
const ALL_CHECKPOINTS = 10_000_000;

/** How verify names a store's lookup that misses an event (Store.auditLookupGap). */
const LOOKUPS = {
  token: { found: 'by its token', lookup: 'by token', reads: '`audit query --token-id`' },
  time: { found: 'by its time', lookup: 'by time', reads: '`audit query --from`/`--to` and the reports' },
} as const;

export async function verifyAudit(
  store: Pick<Store, 'readAudit' | 'listCheckpoints' | 'auditLookupGap'>,
  options: VerifyAuditOptions,
): Promise<AuditVerification> {
  const publicKey = toPublicKey(options.publicKey);
  const pageSize = options.pageSize ?? 5000;
  const all = [...(await store.listCheckpoints(ALL_CHECKPOINTS)), ...(options.externalCheckpoints ?? [])];

  // Signatures first: a forged checkpoint is a problem at its seq, and only
  // genuine checkpoints may vouch for the chain.
  let badSignature: AuditFailure | undefined;
  const trusted = new Map<number, Set<string>>();
  const counted = new Set<string>();
  for (const cp of all) {
    if (!verifyCheckpoint(cp, publicKey)) {
      if (badSignature === undefined || cp.seq < badSignature.seq) {
        badSignature = {
          ok: false,
          seq: cp.seq,
          problem: 'bad_signature',
          detail: `checkpoint at seq ${cp.seq} (key ${cp.keyId}) is not signed by the audit key`,
        };
      }
      continue;
    }
    counted.add(`${cp.seq}:${cp.hash}`);
    let hashes = trusted.get(cp.seq);
    if (hashes === undefined) trusted.set(cp.seq, (hashes = new Set()));
    hashes.add(cp.hash);
  }
  const seqs = [...trusted.keys()].sort((a, b) => a - b);
  const newest = seqs.length > 0 ? seqs[seqs.length - 1]! : 0;
  const first = (failure: AuditFailure): AuditFailure =>
    badSignature !== undefined && badSignature.seq < failure.seq ? badSignature : failure;

  let pp: Link | undefined;
  let p: Link | undefined;
  let firstSeq: number | null = null;
  let lastMatchedCheckpoint = 0;
  let events = 0;
  let afterSeq: number | undefined;

  for (;;) {
    const page = await store.readAudit({ ...(afterSeq === undefined ? {} : { afterSeq }), limit: pageSize });
    for (const e of page) {
      if (p === undefined) {
        firstSeq = e.seq;
        p = anchorOf(e, trusted, seqs);
      }
      const selfOk = hashEvent(e.seq, e.prevHash, e) === e.hash;
      if (e.seq !== p.seq + 1 || e.prevHash !== p.hash || !selfOk) {
        const lookahead = await store.readAudit({ afterSeq: p.seq, limit: LOOKAHEAD });
        return first(classifyBreak(e, p, pp, lookahead));
      }
      const vouched = trusted.get(e.seq);
      if (vouched !== undefined) {
        for (const hash of vouched) {
          if (hash !== e.hash) {
            // An event inserted exactly at a checkpoint's seq still shows as an insertion.
            const [, next] = await store.readAudit({ afterSeq: p.seq, limit: 2 });
            if (next !== undefined && next.prevHash === p.hash) {
              const detail = `event ${e.seq} was inserted: event ${next.seq} links past it to its predecessor`;
              return first({ ok: false, seq: e.seq, problem: 'inserted', detail });
            }
            return first({
              ok: false,
              seq: e.seq,
              problem: 'edited',
              detail:
                `event ${e.seq} does not have the hash its signed checkpoint records: the chain was rebuilt ` +
                `somewhere after seq ${lastMatchedCheckpoint} (the last checkpoint it matches)`,
            });
          }
        }
        lastMatchedCheckpoint = e.seq;
      }
      pp = p;
      p = { seq: e.seq, hash: e.hash, virtual: false };
      events += 1;
    }
    // Only an empty page ends the walk: a store may return fewer than asked (it caps pages).
    if (page.length === 0) break;
    afterSeq = page[page.length - 1]!.seq;
  }

  const lastSeq = p?.seq ?? 0;
  if (newest > lastSeq) {
    return first({
      ok: false,
      // An empty log gives no hint where the missing run starts.
      seq: p === undefined ? 1 : lastSeq + 1,
      problem: 'truncated',
      detail: `the log ends at seq ${lastSeq} but a signed checkpoint records seq ${newest}`,
    });
  }
  // The chain holds; a store's own lookups by token and by time (outside the chain) must still find every event it holds.
  const unfound = (await store.auditLookupGap?.()) ?? null;
  if (unfound !== null) {
    const { found, lookup, reads } = LOOKUPS[unfound.by];
    return first({
      ok: false,
      seq: unfound.seq,
      problem: 'edited',
      detail: `event ${unfound.seq} is not found ${found}: the store's lookup ${lookup} (outside the hash chain) was edited, so ${reads} would not show it`,
    });
  }
  if (badSignature !== undefined) return badSignature;
  return { ok: true, events, checkpoints: counted.size, firstSeq, lastSeq };
}

/**
 * The link the first retained event must hang from: the genesis hash for seq 1,
 * otherwise a genuine checkpoint at the seq just before it (what pruneBefore
 * leaves), or at its own seq (pruneBefore keeps the checkpointed event when it
 * is the newest). Without one, the newest genuine checkpoint below it (or the
 * genesis), so that the walk reports the gap as a deletion, or a moved event.
 */
function anchorOf(e: AuditEvent, trusted: Map<number, Set<string>>, seqs: readonly number[]): Link {
  if (e.seq <= 1) return { seq: e.seq - 1, hash: GENESIS_HASH, virtual: true };
  const vouched = trusted.get(e.seq - 1);
  if (vouched?.has(e.prevHash)) return { seq: e.seq - 1, hash: e.prevHash, virtual: true };
  if (trusted.get(e.seq)?.has(e.hash) && hashEvent(e.seq, e.prevHash, e) === e.hash) {
    return { seq: e.seq - 1, hash: e.prevHash, virtual: true };
  }
  const below = seqs.filter((seq) => seq < e.seq).pop();
  if (below === undefined) return { seq: 0, hash: GENESIS_HASH, virtual: true };
  return { seq: below, hash: [...trusted.get(below)!][0]!, virtual: true };
}
