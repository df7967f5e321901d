import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminContext } from '../admin/context.js';
import { authorizeAnyEnv } from '../admin/authorize.js';
import type { Principal } from '../admin/principal.js';

// The live view's feed: decision events as server-sent events, read from the
// audit trail (the record every gateway node writes) a page at a time, so the
// console shows what every node decided, not only this process.

export const LIVE_POLL_MS = 1_000;
const HEARTBEAT_MS = 15_000;
const PAGE = 500;

export interface LiveOptions {
  readonly context: AdminContext;
  readonly principal: Principal;
  /** Checked on every poll: a session that ended ends the stream. */
  readonly stillSignedIn: () => Promise<boolean>;
  /** Every open stream's end, so that closing the admin server does not wait on them. */
  readonly open: Set<() => void>;
}

export interface LiveDecision {
  readonly seq: number;
  readonly time: number;
  readonly service: string;
  readonly env: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly tokenId: string | null;
  readonly count: number;
}

export async function streamLive(request: FastifyRequest, reply: FastifyReply, options: LiveOptions): Promise<void> {
  const { context, principal } = options;
  authorizeAnyEnv(principal, 'audit.read');
  const head = await context.store.auditHead();
  let after = head.seq;
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  out.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ after })}\n\n`);
  let closed = false;
  let polling = false;
  let lastWrite = Date.now();
  const poll = async () => {
    if (closed || polling) return;
    polling = true;
    try {
      if (!(await options.stillSignedIn())) return finish();
      const events = await context.store.readAudit({ kind: 'decision', afterSeq: after, limit: PAGE });
      for (const event of events) {
        after = event.seq;
        if (event.kind !== 'decision') continue;
        const d = event.detail;
        const item: LiveDecision = { seq: event.seq, time: event.time, service: d.service, env: d.env, decision: d.decision, reason: d.reason, tokenId: d.tokenId, count: d.count ?? 1 };
        out.write(`event: decision\ndata: ${JSON.stringify(item)}\n\n`);
        lastWrite = Date.now();
      }
      if (Date.now() - lastWrite >= HEARTBEAT_MS) {
        out.write(': heartbeat\n\n');
        lastWrite = Date.now();
      }
    } catch (err) {
      request.log.warn({ err }, 'console live feed: the audit trail could not be read');
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), LIVE_POLL_MS);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    options.open.delete(finish);
    out.end();
  };
  options.open.add(finish);
  request.raw.on('close', finish);
  out.on('close', finish);
}
