import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerRefusal, DETAIL_HEADER, reasonNamed, REASON_HEADER, RETRY_HEADER } from './outcome.js';

// GET /refusal: the gateway's answer for a refusal already decided and
// audited, for nginx's error page (auth_request passes only 401 and 403 on).
// It decides nothing and records nothing: it only turns the X-Latchkey-Reason,
// -Detail and -Retry-After headers the nginx config copied from the check's
// answer back into the registry's status and body. Without a known reason
// (the check never answered: Latchkey unreachable, a timeout) it answers 503
// store_unavailable, so the proxy fails closed.

export const REFUSAL_PATH = '/refusal';

export function echoRefusal(req: IncomingMessage, res: ServerResponse): void {
  const code = reasonNamed(req.headers[REASON_HEADER]) ?? 'store_unavailable';
  const detailText = req.headers[DETAIL_HEADER];
  let detail: string | null = null;
  if (typeof detailText === 'string' && detailText !== '') {
    try {
      detail = decodeURIComponent(detailText).slice(0, 512);
    } catch {
      detail = null;
    }
  }
  const retry = Number(req.headers[RETRY_HEADER]);
  answerRefusal(res, code, detail, Number.isInteger(retry) && retry > 0 ? retry : null, false);
}
