// Upstreams: the service table (routes, bindings per environment, credentials
// read once at load from allowed sources only) and the undici connection pools
// requests are forwarded on, which never connect to Latchkey's own listeners.
export { ServiceTable, type ServiceRoute, type BindingRoute, type ServiceTableOptions } from './service-table.js';
export type { Connector } from './connector.js';
export { parseUpstream, type UpstreamTarget } from './target.js';
export { resolveCredential, dropClientCopies, type UpstreamCredential, type CredentialResult } from './credential.js';
export { CredentialPolicy, type FileVerdict, type LatchkeyOwnSecrets } from './credential-policy.js';
export { OwnListeners } from './own-listeners.js';
export { ownListenerAt, ownSocketAt, SelfUpstreamError } from './self-upstream.js';
export { parsePostgresUpstream, type PostgresTarget } from './postgres-target.js';
