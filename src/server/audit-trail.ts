import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  createAuditRecorder,
  createCheckpointer,
  createFileSink,
  createWebhookSink,
  loadOrCreateAuditKey,
  type AuditSink,
  type BatchAuditRecorder,
  type Checkpointer,
} from '../audit/index.js';
import type { AlertRaiser } from '../alerts/index.js';
import type { LatchkeyConfig } from '../config/index.js';
import type { Store } from '../store/store.js';

// The audit trail as configured: the batch recorder gateways write decisions
// to, the signed checkpoints, and the sinks beyond the store.

export interface AuditTrail {
  readonly recorder: BatchAuditRecorder;
  readonly checkpointer: Checkpointer;
  readonly publicKey: KeyObject;
  /** Flushes every recorded event, writes a last checkpoint, closes the sinks. */
  close(): Promise<void>;
}

export async function openAuditTrail(config: LatchkeyConfig, store: Store, metrics: Registry, logger: Logger, alerts?: AlertRaiser): Promise<AuditTrail> {
  const key = await loadOrCreateAuditKey(config.dataDir);
  const webhookSecret = (name: string) => {
    const secret = process.env[name];
    if (secret === undefined || secret === '') throw new Error(`audit.webhook.secretEnv: ${name} is not set`);
    return secret;
  };
  const checkpointer = createCheckpointer({
    store,
    key,
    everyEvents: config.audit.checkpointEvery,
    everyMs: config.audit.checkpointIntervalMs,
    ...(config.audit.checkpointFile !== undefined && { file: config.audit.checkpointFile }),
    logger,
  });
  const sinks: AuditSink[] = [checkpointer];
  if (config.audit.file !== undefined) sinks.push(createFileSink({ path: config.audit.file }));
  if (config.audit.webhook !== undefined) {
    sinks.push(createWebhookSink({ url: config.audit.webhook.url, secret: webhookSecret(config.audit.webhook.secretEnv) }));
  }
  const recorder = createAuditRecorder({
    store, failMode: config.audit.failMode, metrics, logger, sinks,
    ...(alerts !== undefined && { onLoss: (lost: number, why: string) => alerts.raise('audit_loss', { lost, why, failMode: config.audit.failMode }) }),
  });
  return {
    recorder,
    checkpointer,
    publicKey: key.publicKey,
    async close() {
      await recorder.close();
      for (const sink of sinks) await sink.close?.();
    },
  };
}
