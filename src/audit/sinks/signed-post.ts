import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';

// One POST with an HMAC of the body, retried with capped exponential backoff
// and jitter. Shared by the webhook sink and the checkpoint webhook so that a
// receiver checks both the same way.

export const SIGNATURE_HEADER = 'x-latchkey-signature';

export interface SignedPostOptions {
  /** HMAC-SHA256 key; without it the request carries no signature header. */
  readonly secret?: string;
  /** Tries in all, the first included. Default 5. */
  readonly attempts?: number;
  /** Default 200 ms, doubling. */
  readonly initialBackoffMs?: number;
  /** Default 10 s. */
  readonly maxBackoffMs?: number;
  /** Per try, connect to last body byte. Default 10 s. */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly dispatcher?: Dispatcher;
}

/** `sha256=<hex HMAC-SHA256 of body>`, the value of X-Latchkey-Signature. */
export function signatureOf(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** For receivers (and tests): constant-time check of an X-Latchkey-Signature value. */
export function verifySignature(body: string | Buffer, header: string | undefined, secret: string): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signatureOf(body, secret));
  const actual = Buffer.from(header);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export class WebhookDeliveryError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WebhookDeliveryError';
    this.status = status;
  }
}

// Worth another try: the receiver may be back soon. A 4xx other than these
// means the request itself is wrong, and repeating it would not help.
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export async function postSigned(url: string, body: string, options: SignedPostOptions = {}): Promise<void> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const initial = options.initialBackoffMs ?? 200;
  const max = options.maxBackoffMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signatureOf(body, options.secret);

  let last: WebhookDeliveryError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      const backoff = Math.min(max, initial * 2 ** (attempt - 1));
      await sleep(backoff / 2 + Math.random() * (backoff / 2));
    }
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
      await response.body.dump();
      if (response.statusCode < 300) return;
      last = new WebhookDeliveryError(`webhook answered ${response.statusCode}`, response.statusCode);
      if (!retryable(response.statusCode)) throw last;
    } catch (error) {
      if (error instanceof WebhookDeliveryError && !retryable(error.status ?? 500)) throw error;
      last = error instanceof WebhookDeliveryError ? error : new WebhookDeliveryError('webhook unreachable', undefined, error);
    }
  }
  throw last ?? new WebhookDeliveryError('webhook delivery failed', undefined);
}
