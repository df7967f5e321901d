import { createAuditRecorder, type BatchAuditRecorder } from '../../audit/index.js';
import type { AuditedDecision } from '../../core/reason.contract.js';
import type { GatewayWorld } from './world.js';

// What every protocol adapter's reason-code contract needs from its test
// world: a real audit recorder writing through a switch that can fail its
// writes (audit_unavailable, and the recovery), a store whose token reads can
// be made to fail while audit writes go on (store_unavailable, whose event can
// then be read back), and the audited decisions in the contract's form.

export interface ContractFaults {
  readonly recorder: BatchAuditRecorder;
  auditedDecisions(): Promise<AuditedDecision[]>;
  breakStore(): Promise<void>;
  breakAudit(): Promise<void>;
  healAudit(): Promise<void>;
}

export function contractFaults(world: GatewayWorld): ContractFaults {
  let auditBroken = false;
  const recorder = createAuditRecorder({
    store: { appendAudit: (events) => (auditBroken ? Promise.reject(new Error('disk full')) : world.store.appendAudit(events)) },
    failMode: 'closed',
    logger: world.logger,
    retryInitialMs: 20,
    retryMaxMs: 100,
    closeTimeoutMs: 1000,
  });
  return {
    recorder,
    auditedDecisions: async () =>
      (await world.decisions()).map((event) => ({
        reason: String(event.reason),
        tokenId: (event.tokenId as string | null) ?? null,
        ...(typeof event.count === 'number' && { count: event.count }),
      })),
    breakStore: async () => {
      // Token reads fail; audit writes (the same store) go on, so the refusal's event can be read back.
      world.store.findTokenByHash = () => Promise.reject(new Error('store down'));
    },
    breakAudit: async () => {
      auditBroken = true;
    },
    healAudit: async () => {
      auditBroken = false;
      await recorder.flush();
    },
  };
}
