// A stdio MCP server from the official SDK (v2), for the mcp-wrap tests: plain
// JavaScript so that a child process runs it without a TypeScript loader.
// `delete_repo` appends to the file named by MCP_PROBE_FILE, so a test can
// prove its handler never ran.
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const text = (value) => ({ content: [{ type: 'text', text: value }] });
const note = (name) => {
  if (process.env.MCP_PROBE_FILE) appendFileSync(process.env.MCP_PROBE_FILE, `${name}\n`);
};

serveStdio(() => {
  const server = new McpServer({ name: 'latchkey-stdio-test', version: '1.0.0' });
  server.registerTool('list_repos', { description: 'Lists repositories' }, async () => {
    note('list_repos');
    return text('acme/web acme/api');
  });
  server.registerTool('delete_repo', { description: 'Deletes a repository', inputSchema: z.object({ repo: z.string() }) }, async ({ repo }) => {
    note('delete_repo');
    return text(`deleted ${repo}`);
  });
  server.registerTool('slow_progress', { description: 'Reports progress, then finishes 400 ms later', inputSchema: z.object({}) }, async (_args, ctx) => {
    const token = ctx.mcpReq._meta?.progressToken;
    if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 400));
    return text('done');
  });
  return server;
});
