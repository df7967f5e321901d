import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

// A real MCP server from the official TypeScript SDK (v2), the same for the
// HTTP upstream and the stdio one: list_ tools, a delete_repo whose every
// invocation is counted (so a test proves it never ran), create_issue that
// echoes its arguments, a tool that streams progress until released, and a
// resource and a prompt of each visibility.

export interface ServerProbe {
  /** Invocations of each tool's handler. */
  readonly calls: Map<string, number>;
  /** Resolved by a test to let `slow_progress` finish. */
  release: () => void;
  /** Set when `slow_progress` returns. */
  finishedAt: number | null;
}

export function newProbe(): ServerProbe {
  return { calls: new Map(), release: () => undefined, finishedAt: null };
}

export function buildServer(probe: ServerProbe): McpServer {
  const server = new McpServer({ name: 'latchkey-test-server', version: '1.0.0' }, { capabilities: { logging: {} } });
  const count = (name: string): void => {
    probe.calls.set(name, (probe.calls.get(name) ?? 0) + 1);
  };
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('list_repos', { description: 'Lists repositories' }, async () => {
    count('list_repos');
    return text('acme/web acme/api');
  });
  server.registerTool('list_issues', { description: 'Lists issues', inputSchema: z.object({ repo: z.string() }) }, async ({ repo }) => {
    count('list_issues');
    return text(`issues of ${repo}`);
  });
  server.registerTool('delete_repo', { description: 'Deletes a repository', inputSchema: z.object({ repo: z.string() }) }, async ({ repo }) => {
    count('delete_repo');
    return text(`deleted ${repo}`);
  });
  server.registerTool('create_issue', { description: 'Creates an issue', inputSchema: z.object({ repo: z.string(), title: z.string() }) }, async (args) => {
    count('create_issue');
    return text(JSON.stringify(args));
  });
  server.registerTool('admin_reset', { description: 'Resets everything' }, async () => {
    count('admin_reset');
    return text('reset');
  });
  server.registerTool('slow_progress', { description: 'Reports progress until released', inputSchema: z.object({}) }, async (_args, ctx) => {
    count('slow_progress');
    const token = ctx.mcpReq._meta?.progressToken;
    if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
    await new Promise<void>((resolve) => {
      probe.release = resolve;
    });
    if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: 2, total: 2 } });
    probe.finishedAt = performance.now();
    return text('done');
  });
  server.registerResource('readme', 'docs://readme', { description: 'The readme' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'read me' }] }));
  server.registerResource('secrets', 'secret://keys', { description: 'Secret keys' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'keys' }] }));
  server.registerPrompt('summarize', { description: 'Summarize' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'summarize' } }] }));
  server.registerPrompt('jailbreak', { description: 'Hidden prompt' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'x' } }] }));
  return server;
}
