import type { ServerResponse } from 'node:http';
import { REASONS, type ReasonCode } from '../errors/index.js';
import { identityHeadersOf, writeRefusal, type Exchange, type Outcome, type Pipeline } from '../gateway/http/index.js';

// How a forward-auth check ends. The proxy, not Latchkey, forwards: an allowed
// check is recorded when it is answered (the upstream's status is the proxy's
// to log), its in-flight slot is given back then, and the answer — like every
// answer of the gateway — waits until the decision's event is durable.
//
// Allow: 200, empty body, the token's identity headers and, for a service in
// forwardAuth.credentialServices, the upstream credential under its own header
// name, for the proxy to copy onto the upstream request.
// Refusal: the gateway's status and JSON body, plus the reason (and detail and
// Retry-After) in X-Latchkey-* headers, because nginx passes only 401 and 403
// on and turns every other status into 500: its error page asks /refusal for
// the gateway's answer (see refusal-echo.ts).

export const REASON_HEADER = 'x-latchkey-reason';
export const DETAIL_HEADER = 'x-latchkey-detail';
export const RETRY_HEADER = 'x-latchkey-retry-after';

export class ForwardAuthOutcome implements Outcome {
  readonly #pipeline: Pipeline;
  readonly #credentialServices: ReadonlySet<string>;

  constructor(pipeline: Pipeline, credentialServices: readonly string[]) {
    this.#pipeline = pipeline;
    this.#credentialServices = new Set(credentialServices);
  }

  refuse(ex: Exchange, code: ReasonCode): void {
    this.#pipeline.record(ex, 'deny', code);
    void this.#pipeline.durable(ex).then(() => answerRefusal(ex.res!, code, ex.detail, ex.retryAfterSeconds, ex.hasBody && !ex.req.complete));
  }

  forward(ex: Exchange): void {
    this.#pipeline.record(ex, 'allow', 'allowed');
    void this.#pipeline.durable().then((durable) => {
      const res = ex.res!;
      if (res.destroyed || res.headersSent) return;
      if (!durable && !this.#pipeline.auditFailsOpen) return answerRefusal(res, 'audit_unavailable', null, null, false);
      const headers: string[] = ['cache-control', 'no-store', 'content-length', '0'];
      const identity = identityHeadersOf(ex.entry!);
      for (let i = 0; i < identity.length; i++) headers.push(identity[i]!);
      const credential = ex.binding!.credential;
      if (credential !== null && this.#credentialServices.has(ex.service!.name)) headers.push(credential.header, credential.value);
      res.writeHead(200, headers);
      res.end();
    });
  }
}

/** The gateway's refusal, with the reason repeated in headers a proxy can read. */
export function answerRefusal(res: ServerResponse, code: ReasonCode, detail: string | null, retryAfterSeconds: number | null, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  res.setHeader(REASON_HEADER, code);
  if (detail !== null) res.setHeader(DETAIL_HEADER, encodeURIComponent(detail));
  if (retryAfterSeconds !== null) res.setHeader(RETRY_HEADER, String(retryAfterSeconds));
  writeRefusal(res, code, { detail, retryAfterSeconds, close });
}

/** A registry code named by a proxy's header, or null. */
export function reasonNamed(text: string | string[] | undefined): ReasonCode | null {
  return typeof text === 'string' && Object.hasOwn(REASONS, text) ? (text as ReasonCode) : null;
}
