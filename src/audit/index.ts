// The tamper-evident audit trail: every gateway decision and administrative
// change, hash-chained, batched off the hot path, checkpointed with an Ed25519
// signature, and verifiable, exportable and prunable without breaking the chain.
//
// One chain, one total order. With several gateway nodes on one PostgreSQL
// store, every batch is linked onto the single head inside a transaction that
// holds an advisory lock (Store.appendAudit), rather than each node keeping a
// chain of its own. Why: a per-node chain proves each node's order but not the
// order between nodes, so it cannot say whether a revocation (an admin event)
// came before or after a request on another node; a node that is removed, or
// whose chain is deleted whole, leaves no trace in the others; and verifying,
// checkpointing, exporting and pruning all need one head to name. The price is
// one lock held for the length of a batch insert, which batching amortizes
// (thousands of events per lock) and which the benchmark (src/bench/audit.ts)
// measures.
//
// Wiring, in short: the gateway calls createAuditRecorder({ store, failMode,
// metrics, logger, sinks: [createCheckpointer({ store, key: await
// loadOrCreateAuditKey(dataDir), file }), ...] }) and checks `accepting`
// before each request; `audit verify` is verifyAudit(store, { publicKey,
// externalCheckpoints: await readCheckpointFile(file) }); `audit export` is
// exportAudit(store, filter, format, stream); `audit tail -f` is
// followAuditEvents; retention is pruneOlderThan(store, cutoff, { publicKey }).

export type { AuditEvent, AuditEventInput, AuditKind, AdminDetail, DecisionDetail } from './event.js';
export type { AuditFailMode, AuditRecorder } from './recorder.js';
export { canonicalJson } from './canonical.js';
export { GENESIS_HASH, hashEvent, linkEvents } from './chain.js';

export {
  createAuditRecorder,
  type AuditLogger,
  type AuditRecorderOptions,
  type BatchAuditRecorder,
} from './batch-recorder.js';
export type { AuditRecorderStats } from './recorder-metrics.js';
export { DECISION_FIELD_LIMITS, boundDecision, boundEvent, truncated } from './bound.js';
export { OVERFLOW_CLIENT, RefusalSummaries, type RefusalSummaryOptions } from './refusal-summary.js';
export { REDACTED, containsSecret, isSecretHeader, redactEvent, redactHeaders, redactText, redactValue } from './redact.js';

export {
  AUDIT_KEY_FILE,
  auditKeyFromPem,
  checkpointLine,
  keyIdOf,
  loadOrCreateAuditKey,
  publicKeyPem,
  readCheckpointFile,
  signCheckpoint,
  toPublicKey,
  verifyCheckpoint,
  type AuditKey,
} from './checkpoint.js';
export { createCheckpointer, type Checkpointer, type CheckpointerOptions } from './checkpointer.js';

export {
  verifyAudit,
  type AuditFailure,
  type AuditProblem,
  type AuditVerification,
  type VerifyAuditOptions,
} from './verify.js';

export {
  AUDIT_PAGE_SIZE,
  followAuditEvents,
  readAuditEvents,
  type AuditReadFilter,
  type FollowOptions,
} from './read.js';
export {
  AUDIT_EXPORT_FORMATS,
  eventJsonLine,
  exportAudit,
  parseAuditJsonl,
  type AuditExportFormat,
} from './export.js';
export { CSV_COLUMNS, csvCell, eventCsvRow, parseAuditCsv, parseCsv } from './csv.js';

export { pruneBefore, pruneOlderThan, type PruneOptions } from './retention.js';

export * from './sinks/index.js';
