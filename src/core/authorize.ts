import { compileGrant, type PathMatching } from '../policy/index.js';
import type { CompiledGrant, Decision } from '../policy/types.js';

// Authorization: the compiled grant asked about what the adapter turned the
// request into. Protocol adapters supply the action and the resource (HTTP:
// method and folded path segments; PostgreSQL: statement kind and table; MCP:
// method and name); the grant never sees a request. A token whose grant could
// not be compiled safely (null) is denied everything.

const NOTHING = compileGrant([]);

/**
 * `method` is the one authorized (the overriding one when the request carries
 * an override), `sent` the one on the wire: an upstream that ignores the
 * override performs `sent`, so both must be granted.
 */
export function authorizeHttp(
  grant: CompiledGrant | null,
  service: string,
  method: string,
  sent: string,
  segments: readonly string[],
  matching: PathMatching,
): Decision {
  const effective = grant ?? NOTHING;
  const decision = effective.decideHttp(service, method, segments, matching);
  if (!decision.allowed || method === sent) return decision;
  const asSent = effective.decideHttp(service, sent, segments, matching);
  return asSent.allowed ? decision : asSent;
}

/** The admin API's own permissions (`latchkey:<action>[:<env>]`). */
export function authorizeAdmin(grant: CompiledGrant | null, action: string, env: string | undefined): Decision {
  return (grant ?? NOTHING).decideAdmin(action, env);
}
