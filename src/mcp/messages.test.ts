import { describe, expect, it } from 'vitest';
import { checkMirroredHeaders } from './headers.js';
import { MAX_BATCH, parseMessages } from './messages.js';

const parse = (value: unknown) => parseMessages(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

describe('parseMessages', () => {
  it('reads one message, a batch, and the client answering the server', () => {
    expect(parse({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toMatchObject({ ok: true, batch: false, messages: [{ method: 'tools/list', id: 1 }] });
    expect(parse([{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 'a', result: {} }])).toMatchObject({ ok: true, batch: true, messages: [{ method: 'notifications/initialized' }, { method: undefined, id: 'a' }] });
  });

  it.each([
    ['not JSON', '{', -32700],
    ['not an object', '"x"', -32600],
    ['no jsonrpc', { id: 1, method: 'ping' }, -32600],
    ['params not an object', { jsonrpc: '2.0', id: 1, method: 'ping', params: [1] }, -32600],
    ['an odd method', { jsonrpc: '2.0', id: 1, method: 'tools/call\n' }, -32600],
    ['an object id', { jsonrpc: '2.0', id: {}, method: 'ping' }, -32600],
    ['neither method nor result', { jsonrpc: '2.0', id: 1 }, -32600],
    ['an empty batch', [], -32600],
    ['a batch over the cap', Array.from({ length: MAX_BATCH + 1 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'ping' })), -32600],
  ])('refuses %s', (_name, value, rpcCode) => {
    expect(parse(value)).toMatchObject({ ok: false, rpcCode });
  });
});

describe('checkMirroredHeaders', () => {
  const message = { method: 'tools/call', id: 1, params: { name: 'create_issue', arguments: { repo: 'acme/web', count: 3 } }, bytes: 0 };
  it('accepts headers that match the body, and none at all', () => {
    expect(checkMirroredHeaders({}, [message], false)).toBeNull();
    expect(checkMirroredHeaders({ 'mcp-method': 'tools/call', 'mcp-name': 'create_issue', 'mcp-param-repo': 'acme/web', 'mcp-param-count': '3' }, [message], false)).toBeNull();
  });
  it('refuses any that disagree, name an absent argument, or come with a batch', () => {
    expect(checkMirroredHeaders({ 'mcp-name': 'list_repos' }, [message], false)).toContain('Mcp-Name');
    expect(checkMirroredHeaders({ 'mcp-param-owner': 'x' }, [message], false)).toContain('mcp-param-owner');
    expect(checkMirroredHeaders({ 'mcp-method': 'tools/call' }, [message, message], true)).toContain('batch');
  });
});
