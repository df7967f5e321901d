import type { KeyObject } from 'node:crypto';
import { LatchkeyError } from '../errors/index.js';
import type { AuditCheckpoint, Store } from '../store/store.js';
import { verifyCheckpoint } from './checkpoint.js';

// Pruning old events without losing verifiability: events are only ever cut
// at a signed checkpoint that stays in the store, so that the first retained
// event's prevHash is vouched for by a signature instead of by the events
// that were deleted (see anchorOf in verify.ts).

type RetentionStore = Pick<Store, 'readAudit' | 'auditHead' | 'listCheckpoints' | 'addCheckpoint' | 'pruneAudit'>;

export interface PruneOptions {
  /** When given, a checkpoint not signed by this key is refused. */
  readonly publicKey?: KeyObject | string;
}

const ALL_CHECKPOINTS = 10_000_000;

/**
 * Deletes the events up to and including `checkpoint.seq`, leaving the next
 * event to hang from the checkpoint, which is kept (added to the store if it
 * came from elsewhere). When the checkpoint is the head, its own event is kept
 * so that the log is never emptied: an empty log could not be told from a
 * truncated one. Refuses (`conflict`) when the chain does not pass through
 * the checkpoint. Returns how many events were deleted.
 */
export async function pruneBefore(store: RetentionStore, checkpoint: AuditCheckpoint, options: PruneOptions = {}): Promise<number> {
  if (options.publicKey !== undefined && !verifyCheckpoint(checkpoint, options.publicKey)) {
    throw new LatchkeyError('invalid_request', `checkpoint at seq ${checkpoint.seq} is not signed by the audit key`);
  }
  const [event] = await store.readAudit({ afterSeq: checkpoint.seq - 1, limit: 1 });
  if (event !== undefined && event.seq === checkpoint.seq && event.hash !== checkpoint.hash) {
    throw new LatchkeyError('conflict', `event ${checkpoint.seq} does not have the checkpoint's hash; run audit verify`);
  }
  const retained = await store.listCheckpoints(ALL_CHECKPOINTS);
  const kept = retained.some(
    (cp) => cp.seq === checkpoint.seq && cp.hash === checkpoint.hash && cp.signature === checkpoint.signature,
  );
  if (!kept) await store.addCheckpoint(checkpoint);
  const head = await store.auditHead();
  return store.pruneAudit(checkpoint.seq >= head.seq ? checkpoint.seq : checkpoint.seq + 1);
}

/**
 * Retention by age: prunes at the newest retained checkpoint older than
 * `cutoff` (ms since the epoch). Returns 0 when there is none.
 */
export async function pruneOlderThan(store: RetentionStore, cutoff: number, options: PruneOptions = {}): Promise<number> {
  const candidates = await store.listCheckpoints(ALL_CHECKPOINTS);
  const anchor = candidates
    .filter((cp) => cp.time < cutoff && (options.publicKey === undefined || verifyCheckpoint(cp, options.publicKey)))
    .sort((a, b) => b.seq - a.seq)[0];
  return anchor === undefined ? 0 : pruneBefore(store, anchor, options);
}
