// One registry of every code Latchkey answers with: gateway reason codes and
// admin API error codes share it, so responses, logs and audit events agree.

export const REASONS = {
  // 400-class input errors of the admin API
  invalid_request: { status: 400, message: 'the request is invalid' },
  not_found: { status: 404, message: 'no such resource' },
  conflict: { status: 409, message: 'the resource already exists or changed' },
  body_too_large: { status: 413, message: 'the request body is larger than allowed' },
  unsupported_media_type: { status: 415, message: 'the request body must be application/json' },
  // 401: the token itself
  token_missing: { status: 401, message: 'no Latchkey token was presented' },
  token_malformed: { status: 401, message: 'the token is not a well-formed Latchkey token' },
  token_unknown: { status: 401, message: 'the token is not valid' },
  token_expired: { status: 401, message: 'the token has expired' },
  token_not_yet_valid: { status: 401, message: 'the token is not valid yet' },
  token_revoked: { status: 401, message: 'the token has been revoked' },
  token_disabled: { status: 401, message: 'the token is disabled' },
  // 401 for a caller that proves itself with a signature instead of a token (GitHub's secret scanning)
  signature_invalid: { status: 401, message: 'the request signature is missing or does not verify' },
  // 403: what the token may do
  permission_denied: { status: 403, message: 'the token does not allow this request' },
  env_mismatch: { status: 403, message: 'the token belongs to another environment' },
  ip_not_allowed: { status: 403, message: 'the client address is not allowed for this token' },
  request_ambiguous: { status: 403, message: 'the request has a path or header the gateway will not interpret' },
  // 403 from the forward-auth endpoint: the caller is not a configured proxy (or lacks the shared secret)
  proxy_not_trusted: { status: 403, message: 'only a trusted proxy may ask the forward-auth endpoint' },
  // 403 from the admin listener: a call riding on a console session cookie without the console's CSRF token or origin
  csrf_refused: { status: 403, message: 'a console request must come from the console itself' },
  // 404 from the gateway: no such service (said without revealing anything about tokens)
  service_unknown: { status: 404, message: 'no such service' },
  // 429: limits
  rate_limited: { status: 429, message: 'the token has exceeded its rate limit' },
  usage_exhausted: { status: 429, message: 'the token has used all its allowed requests' },
  concurrency_limited: { status: 429, message: 'too many requests of this token or to this service are in flight' },
  // 5xx: fail closed
  upstream_unreachable: { status: 502, message: 'the upstream could not be reached' },
  // the binding's credential (variable or file) could not be read by this gateway: the operator sees which in
  // `service show` and the log; the client is not told where the secret lives
  upstream_credential_missing: { status: 502, message: "the gateway has no credential for this service's upstream" },
  upstream_timeout: { status: 504, message: 'the upstream did not answer in time' },
  store_unavailable: { status: 503, message: 'the token store is unavailable' },
  audit_unavailable: { status: 503, message: 'the audit log cannot be written' },
  internal_error: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ReasonCode = keyof typeof REASONS;
