import type { AuditEventInput } from './event.js';

// The last line of defense before an event is hashed and persisted: producers
// are supposed to leave secrets out, but a token pasted into a path or a
// header copied into an admin "before" must still never reach the chain, an
// export or a sink. Once an event is hashed it cannot be scrubbed without
// breaking the chain, so this runs before linking.

export const REDACTED = '[redacted]';

// Looser than the token grammar on purpose (16+ body characters, no checksum):
// a truncated or mistyped token is still a secret. The display hint
// `lk_prod_…abcd` does not match because of the ellipsis.
const TOKEN_LIKE = /lk_[a-z][a-z0-9]{0,11}_[0-9A-Za-z]{16,}/g;
// `Bearer <credential>` / `Basic <credential>` anywhere in a string (a header
// copied into a field). The credential must look like one, so that prose such
// as "basic permissions" in a role description survives: a bearer value has a
// digit or token punctuation, a basic value decodes to `user:password`.
const SCHEME_CREDENTIAL = /\b(bearer|basic)\s+([A-Za-z0-9._~+/-]+=*)/gi;
// Cheap pre-check so that the common, clean string costs one scan.
const MAYBE_SECRET = /lk_|bearer|basic/i;

/**
 * False when no string anywhere in `text` could be redacted: run over an
 * event's canonical JSON it clears every string in it at once, since JSON
 * escapes none of the letters the pre-check looks for.
 */
export function mayHoldSecret(text: string): boolean {
  return MAYBE_SECRET.test(text);
}

/** The fields of a decision detail: none names a credential header, so redaction looks only at their string values. */
export const DECISION_KEYS: ReadonlySet<string> = new Set([
  'node', 'tokenId', 'tokenName', 'env', 'service', 'action', 'override', 'requestId', 'resource', 'decision', 'reason', 'matched',
  'upstreamStatus', 'latencyMs', 'client', 'count', 'firstTime',
]);

// The field names of decision and admin details: never header names, so the
// per-key header check (a lower-casing) is skipped for them on the hot path.
const EVENT_KEYS = new Set([
  'requestId', 'node', 'tokenId', 'tokenName', 'env', 'service', 'action', 'resource', 'decision', 'reason', 'matched',
  'upstreamStatus', 'latencyMs', 'client', 'count', 'firstTime', 'actor', 'actorTokenId', 'target', 'before', 'after',
]);

/** Header names whose values are credentials, whatever they contain. */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
]);

/** True when `text` holds something that looks like a Latchkey token or a scheme credential. */
export function containsSecret(text: string): boolean {
  return redactText(text) !== text;
}

/** Returns `text` with anything that looks like a Latchkey token or a scheme credential replaced. */
export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  return text.replace(TOKEN_LIKE, REDACTED).replace(SCHEME_CREDENTIAL, redactCredential);
}

function redactCredential(match: string, scheme: string, credential: string): string {
  const secret =
    scheme.toLowerCase() === 'basic'
      ? Buffer.from(credential, 'base64').toString('latin1').includes(':')
      : credential.length >= 8 && /[0-9._~+/=-]/.test(credential);
  return secret ? REDACTED : match;
}

export function isSecretHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_HEADERS.has(lower) || lower.startsWith('x-latchkey-');
}

/**
 * A copy of `headers` fit for a log line or an audit detail: credential
 * headers (and every `X-Latchkey-*` header) replaced, and token-like text in
 * the others too.
 */
export function redactHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (isSecretHeader(name)) out[name] = REDACTED;
    else if (typeof value === 'string') out[name] = redactText(value);
    else out[name] = value.map(redactText);
  }
  return out;
}

/**
 * Redacts any JSON-like value. Returns the same object when nothing needed
 * redacting, so clean events (nearly all) are not copied. Object keys that
 * name credential headers have their values replaced whatever they hold.
 */
export function redactValue<T>(value: T): T {
  return redactAny(value, 0) as T;
}

// Deep enough for any admin before/after; deeper structures are replaced wholesale
// rather than walked, so a hostile value cannot make the writer recurse without bound.
const MAX_DEPTH = 32;

function redactAny(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = redactAny(value[i], depth + 1);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    const secretKey = !EVENT_KEYS.has(key) && isSecretHeader(key);
    const next = secretKey && item !== null && item !== undefined ? REDACTED : redactAny(item, depth + 1);
    if (next !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = next;
    }
  }
  return copy ?? value;
}

/** The event with its detail redacted; the same object when it was clean. */
export function redactEvent<T extends AuditEventInput>(event: T): T {
  const detail = redactValue(event.detail);
  return detail === event.detail ? event : ({ ...event, detail } as T);
}
