// The data-plane core: everything from token lookup to the audit event that
// every protocol adapter (HTTP now; PostgreSQL, MCP and forward-auth next) and
// the admin API's own checks share, one implementation of each rule.
export * from './tokens/index.js';
export * from './feed/index.js';
export * from './limits/index.js';
export * from './services/index.js';
export { GatewayMetrics, UNKNOWN_SERVICE_LABEL, type ServiceMetrics } from './metrics.js';
