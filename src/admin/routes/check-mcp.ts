import { z } from 'zod';
import { admissionRefusal, knownToken } from '../../core/admission.js';
import { REASONS, type ReasonCode } from '../../errors/index.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { classifyMessage, compileGlob, compileGrant, parsePermissions, wholeServiceAllow } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import type { TokenRecord } from '../../store/records.js';
import { parseToken } from '../../token/index.js';
import type { AdminContext } from '../context.js';
import { tokenEntryOf, type Principal } from '../principal.js';
import { auditRead, honeytokenAlarm } from '../token-audit.js';

// POST /v1/check for an MCP message: what the MCP adapter would decide of it,
// through the same table (policy/mcp-target.ts) and the same grant decision,
// the service's hidden tools included. Only what a live request adds (mirrored
// headers, Origin, session) is not judged.

export const mcpQuestion = z.strictObject({
  service: z.string().min(1).max(64),
  method: z.string().min(1).max(128).describe('the JSON-RPC method, e.g. tools/call'),
  params: z.record(z.string(), z.unknown()).optional().describe('its params, e.g. {"name": "create_issue", "arguments": {...}}'),
});

type McpQuestion = z.infer<typeof mcpQuestion>;

function refusal(reason: ReasonCode, explanation: string = REASONS[reason].message) {
  return { allowed: false, reason, matched: null, nearest: null, explanation };
}

export async function checkMcp(input: { token?: string | undefined; grant?: string[] | undefined; client?: string | undefined }, question: McpQuestion, principal: Principal, context: AdminContext, started: bigint) {
  const { store, hasher, now, logger } = context;
  const service = await store.getService(question.service);
  if (service === undefined || service.kind !== 'mcp') return refusal('service_unknown');
  const target = classifyMessage({ method: question.method, params: question.params });
  if (target.kind === 'invalid') return refusal('invalid_request', target.detail);
  let grant: CompiledGrant | null;
  let audited: TokenRecord | undefined;
  if (input.grant !== undefined) {
    const catalog = await loadServiceCatalog(store);
    grant = compileGrant(parsePermissions(input.grant, catalog, 'grant'), catalog);
  } else {
    const at = now();
    if (parseToken(input.token!) === undefined) return refusal('token_malformed');
    const record = await store.findTokenByHash(hasher.hash(input.token!));
    if (record?.honey === true) await honeytokenAlarm(context, record, 'check', principal.actor, principal.client, at);
    const entry = record === undefined ? null : knownToken(await tokenEntryOf(store, record, logger, at));
    const bindings = new Map(service.bindings.map((binding) => [binding.env, binding]));
    const refused = entry === null ? 'token_unknown' : admissionRefusal(entry, at, null, bindings, input.client);
    if (refused !== null) {
      await audit(context, principal, record, question, refused, at);
      return refusal(refused);
    }
    grant = entry!.grant;
    audited = record;
  }
  const answer = decide(grant, service.name, service.hiddenTools, question, target);
  if (audited !== undefined) await audit(context, principal, audited, question, answer.reason, now());
  return { ...answer, service: service.name, mcpMethod: question.method, serverMicros: Number(process.hrtime.bigint() - started) / 1000 };
}

function decide(grant: CompiledGrant | null, service: string, hidden: readonly string[], question: McpQuestion, target: ReturnType<typeof classifyMessage>) {
  if (target.kind === 'pass') {
    const list = target.list === null ? '' : '; its result is filtered to what the token may use';
    return { allowed: true, reason: 'allowed', matched: null, nearest: null, explanation: `${question.method} is a lifecycle or discovery method: it passes${list}` };
  }
  if (grant === null) return refusal('permission_denied', 'the grant could not be compiled');
  if (target.kind === 'other') {
    const whole = wholeServiceAllow(grant, service);
    return whole === null
      ? refusal('permission_denied', `method ${question.method} is granted only by ${service}:* (every action and resource) with no deny of ${service}`)
      : { allowed: true, reason: 'allowed', matched: whole.text, nearest: null, explanation: `allowed by ${whole.text}` };
  }
  if (target.kind === 'invalid') return refusal('invalid_request', target.detail);
  if (target.action === 'call' && hidden.map(compileGlob).some((matches) => matches(target.name))) return refusal('permission_denied', `tool ${target.name} is hidden by the service`);
  const decision = grant.decideMcp(service, target.action, target.name, target.args);
  return { allowed: decision.allowed, reason: decision.reason, matched: decision.matched, nearest: decision.nearest, explanation: decision.explanation, ...(decision.argument !== undefined && { argument: decision.argument }) };
}

/** Argument names only: their values may be secrets and stay out of the audit log. */
function audit(context: AdminContext, principal: Principal, record: TokenRecord | undefined, question: McpQuestion, reason: string, at: number): Promise<void> {
  const args = question.params?.arguments;
  const names = typeof args === 'object' && args !== null ? Object.keys(args).slice(0, 32) : [];
  const name = question.params?.name ?? question.params?.uri;
  return auditRead(context.store, principal.actor, {
    action: 'token.check',
    target: record?.id ?? '',
    before: null,
    after: { service: question.service, mcpMethod: question.method, name: typeof name === 'string' ? name.slice(0, 256) : null, arguments: names, reason, client: principal.client },
  }, at);
}
