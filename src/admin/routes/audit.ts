import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { exportAudit, verifyAudit } from '../../audit/index.js';
import type { AuditCheckpoint, AuditFilter } from '../../store/store.js';
import { LatchkeyError } from '../../errors/index.js';
import { RawResponse, route } from '../route.js';

// The audit trail through the admin API: query, export, verify. Reading it
// takes latchkey:audit.read; nothing here can change it.

const filterShape = {
  kind: z.enum(['decision', 'admin']).optional(),
  token: z.string().max(64).optional(),
  service: z.string().max(64).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  reason: z.string().max(64).optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('inclusive'),
  to: z.iso.datetime({ offset: true }).optional().describe('exclusive'),
  after: z.coerce.number().int().min(0).optional().describe('events with a sequence number above this'),
};

const eventsQuery = z.strictObject({ ...filterShape, limit: z.coerce.number().int().min(1).max(1000).default(100) });
const exportQuery = z.strictObject({ ...filterShape, format: z.enum(['jsonl', 'csv']).default('jsonl') });

const checkpoint = z.strictObject({
  seq: z.int().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/), time: z.int().min(0),
  signature: z.string().max(200), keyId: z.string().max(64),
});
const verifyBody = z.strictObject({
  checkpoints: z.array(checkpoint).max(100_000).default([]).describe('checkpoints kept outside the store, e.g. the checkpoint file'),
});

type FilterQuery = { [K in keyof typeof filterShape]?: z.infer<(typeof filterShape)[K]> };

function toFilter(query: FilterQuery): Omit<AuditFilter, 'limit'> {
  return {
    ...(query.kind !== undefined && { kind: query.kind }),
    ...(query.token !== undefined && { tokenId: query.token }),
    ...(query.service !== undefined && { service: query.service }),
    ...(query.decision !== undefined && { decision: query.decision }),
    ...(query.reason !== undefined && { reason: query.reason }),
    ...(query.from !== undefined && { fromTime: Date.parse(query.from) }),
    ...(query.to !== undefined && { toTime: Date.parse(query.to) }),
    ...(query.after !== undefined && { afterSeq: query.after }),
  };
}

export const auditRoutes = [
  route<undefined, z.infer<typeof eventsQuery>>({
    method: 'GET', path: '/v1/audit/events', action: 'audit.read', tag: 'audit', status: 200,
    summary: 'Query audit events in sequence order; page on with after=nextAfter', query: eventsQuery,
    handle: async ({ query }, { store }) => {
      const items = await store.readAudit({ ...toFilter(query), limit: query.limit });
      return { items, nextAfter: items.length === query.limit ? items.at(-1)!.seq : null };
    },
  }),
  route({
    method: 'GET', path: '/v1/audit/head', action: 'audit.read', tag: 'audit', status: 200,
    summary: 'The head of the chain and the newest checkpoint',
    handle: async (_input, { store }) => ({ head: await store.auditHead(), checkpoint: (await store.listCheckpoints(1))[0] ?? null }),
  }),
  route<undefined, z.infer<typeof exportQuery>>({
    method: 'GET', path: '/v1/audit/export', action: 'audit.read', tag: 'audit', status: 200,
    summary: 'Export matching events as JSONL or CSV, streamed', query: exportQuery,
    handle: async ({ query }, { store, logger }) => {
      const out = new PassThrough();
      exportAudit(store, toFilter(query), query.format, out).then(
        () => out.end(),
        (err: unknown) => {
          logger.error({ err }, 'audit export failed');
          out.destroy(err as Error);
        },
      );
      return new RawResponse(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson', out);
    },
  }),
  route<z.infer<typeof verifyBody>>({
    method: 'POST', path: '/v1/audit/verify', action: 'audit.read', tag: 'audit', status: 200,
    summary: 'Walk the chain and its checkpoints; name the first sequence number where anything is wrong', body: verifyBody,
    handle: async ({ body }, { store, auditPublicKey }) => {
      if (auditPublicKey === undefined) throw new LatchkeyError('internal_error', 'this process has no audit key to verify with');
      return verifyAudit(store, { publicKey: auditPublicKey, externalCheckpoints: body.checkpoints as AuditCheckpoint[] });
    },
  }),
];
