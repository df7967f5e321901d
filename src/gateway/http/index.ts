// The HTTP data plane: listeners on node:http, the request pipeline (route,
// headers, token, checks, authorize, limits), and the forwarders for plain
// requests (undici pools) and WebSocket upgrades.
export { Pipeline, type PipelineOptions } from './pipeline.js';
export { HttpOutcome } from './forward.js';
export { UpgradeOutcome } from './websocket.js';
export { createListener, type ListenerParts, type ServerLimits } from './server.js';
export { byFirstSegment, fixedService, type ServiceLocator } from './route.js';
export { ClientAddressResolver } from './client-address.js';
export { Exchange, type Outcome } from './exchange.js';
export { identityHeadersOf } from './identity.js';
export { writeRefusal } from './refusal.js';
