import { z } from 'zod';
import { classifyMessage, compileGlob, wholeServiceAllow } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import type { AdminContext } from '../context.js';
import type { Principal } from '../principal.js';
import { auditCheck, refusal, subjectOf, type CheckSubjectInput, type Question } from './check-subject.js';

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


export async function checkMcp(input: CheckSubjectInput, question: McpQuestion, principal: Principal, context: AdminContext, started: bigint) {
  const { store } = context;
  const service = await store.getService(question.service);
  if (service === undefined || service.kind !== 'mcp') return refusal('service_unknown');
  const target = classifyMessage({ method: question.method, params: question.params });
  if (target.kind === 'invalid') return refusal('invalid_request', target.detail);
  const asked = questionOf(question);
  const subject = await subjectOf(input, service, principal, context, () => asked);
  if (!subject.ok) return subject.refusal;
  const { grant, audited } = subject;
  const answer = decide(grant, service.name, service.hiddenTools, question, target);
  if (audited !== undefined) await auditCheck(context, principal, audited, asked, answer.reason, context.now());
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

/** What the audit keeps of the question: argument names only, their values may be secrets. */
function questionOf(question: McpQuestion): Question {
  const args = question.params?.arguments;
  const names = typeof args === 'object' && args !== null ? Object.keys(args).slice(0, 32) : [];
  const name = question.params?.name ?? question.params?.uri;
  return { service: question.service, mcpMethod: question.method, name: typeof name === 'string' ? name.slice(0, 256) : null, arguments: names };
}
