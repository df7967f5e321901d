import type { CompiledGrant, Decision, Permission } from './types.js';

// What one MCP JSON-RPC message asks of a service, in the permission engine's
// words, as http-target.ts does for an HTTP request: the MCP adapter and
// /v1/check read messages through this one table. Only the body decides (the mirrored headers must agree with it):
//
//   tools/call                      call <params.name>, with <params.arguments>
//   resources/read, resources/subscribe, resources/unsubscribe   read <params.uri>
//   prompts/get                     get <params.name>
//   completion/complete             get <ref.name> (ref/prompt) or read <ref.uri> (ref/resource)
//   lifecycle and discovery         pass: initialize, ping, notifications/*, logging/setLevel,
//                                   server/discover, subscriptions/listen, and the four lists
//                                   (whose results are filtered, see visibility.ts)
//   the client's answers            pass (results of sampling, elicitation, roots)
//   anything else                   only with an allow of every action and resource of the
//                                   service (`svc:*`) and no deny of it

export type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';

export type MessageTarget =
  | { readonly kind: 'pass'; readonly list: ListKind | null }
  | { readonly kind: 'check'; readonly action: 'call' | 'read' | 'get'; readonly name: string; readonly args: Readonly<Record<string, unknown>> | undefined }
  | { readonly kind: 'other' }
  | { readonly kind: 'invalid'; readonly detail: string };

const LISTS: ReadonlyMap<string, ListKind> = new Map([
  ['tools/list', 'tools'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
  ['prompts/list', 'prompts'],
]);

const PASS = new Set(['initialize', 'ping', 'logging/setLevel', 'server/discover', 'subscriptions/listen']);
const MAX_NAME = 1024;

function named(params: Readonly<Record<string, unknown>> | undefined, field: 'name' | 'uri', method: string): string | { detail: string } {
  const value = params?.[field];
  if (typeof value !== 'string' || value === '') return { detail: `${method} needs params.${field} (a non-empty string)` };
  if (value.length > MAX_NAME) return { detail: `params.${field} of ${method} is longer than ${MAX_NAME} characters` };
  return value;
}

function check(action: 'call' | 'read' | 'get', name: string | { detail: string }, args?: Readonly<Record<string, unknown>>): MessageTarget {
  return typeof name === 'string' ? { kind: 'check', action, name, args } : { kind: 'invalid', detail: name.detail };
}

/** What a message needs to be classified: its method (undefined: the client answering the server) and params. */
export interface McpMessage {
  readonly method: string | undefined;
  readonly params: Readonly<Record<string, unknown>> | undefined;
}

export function classifyMessage(message: McpMessage): MessageTarget {
  const method = message.method;
  if (method === undefined) return { kind: 'pass', list: null };
  const params = message.params;
  switch (method) {
    case 'tools/call': {
      const args = params?.arguments;
      if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) return { kind: 'invalid', detail: 'params.arguments of tools/call must be an object' };
      return check('call', named(params, 'name', method), args as Readonly<Record<string, unknown>> | undefined);
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return check('read', named(params, 'uri', method));
    case 'prompts/get':
      return check('get', named(params, 'name', method));
    case 'completion/complete': {
      const ref = params?.ref as Readonly<Record<string, unknown>> | undefined;
      if (ref?.type === 'ref/prompt') return check('get', named(ref, 'name', method));
      if (ref?.type === 'ref/resource') return check('read', named(ref, 'uri', method));
      return { kind: 'invalid', detail: 'completion/complete needs params.ref of type ref/prompt or ref/resource' };
    }
  }
  const list = LISTS.get(method);
  if (list !== undefined) return { kind: 'pass', list };
  if (PASS.has(method) || method.startsWith('notifications/')) return { kind: 'pass', list: null };
  return { kind: 'other' };
}

const WHOLE_SERVICE = new WeakMap<CompiledGrant, Map<string, Permission | null>>();

/** The allow of every action and resource of the service, when the grant has one and no deny of the service: computed once per grant. */
export function wholeServiceAllow(grant: CompiledGrant, service: string): Permission | null {
  let perService = WHOLE_SERVICE.get(grant);
  if (perService === undefined) {
    perService = new Map();
    WHOLE_SERVICE.set(grant, perService);
  }
  const known = perService.get(service);
  if (known !== undefined) return known;
  const mine = grant.permissions.filter((permission) => permission.service === service);
  const found = mine.some((permission) => permission.effect === 'deny') ? null : (mine.find((permission) => permission.action === '*' && permission.resource === undefined) ?? null);
  perService.set(service, found);
  return found;
}

export function decideTarget(grant: CompiledGrant, service: string, target: MessageTarget & { kind: 'check' }): Decision {
  return grant.decideMcp(service, target.action, target.name, target.args);
}
