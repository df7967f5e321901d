// Upstreams: the service table (routes, bindings per environment, credentials
// read once at load) and the undici connection pools requests are forwarded on.
export { ServiceTable, type ServiceRoute, type BindingRoute, type UpstreamPoolOptions, type ServiceTableOptions } from './service-table.js';
export { parseUpstream, type UpstreamTarget } from './target.js';
export { resolveCredential, type UpstreamCredential, type CredentialResult } from './credential.js';
