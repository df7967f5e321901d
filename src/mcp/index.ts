// The MCP adapter: Streamable HTTP (2026-07-28 and 2025-11-25) on the HTTP
// gateway listener. It reads each JSON-RPC message, authorizes it on its body
// (tool, resource, prompt and the tool's arguments), filters list results to
// what the token may use, and streams everything else through unbuffered.
export { McpAdapter, type McpAdapterOptions } from './adapter.js';
export { parseMessages, type JsonRpcMessage, type ParsedBody } from './messages.js';
export { startStdioBridge, type StdioBridge } from './wrap.js';
