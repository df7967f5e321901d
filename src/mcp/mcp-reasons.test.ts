// The reason-code contract of the data-plane core (core/reason.contract.ts),
// run over the MCP adapter: every code from a real JSON-RPC request, answered
// as a JSON-RPC error carrying the code, and audited with it.
import { runReasonContract } from '../core/reason.contract.js';
import { mcpReasonAdapter } from './testing/mcp-reason-adapter.js';

runReasonContract('mcp', mcpReasonAdapter);
