// The HTTP gateway: the data plane that checks every request against its
// Latchkey token and forwards it with the real upstream credential. Also the
// entry point of a data-plane-only node (`latchkey gateway --env ENV`).
export { startHttpGateway, type HttpGateway } from './gateway.js';
export type { HttpGatewayOptions, ListenAddress } from './options.js';
export { createRedisChangePublisher, REDIS_CHANGE_CHANNEL, type RedisChangePublisher } from '../core/feed/index.js';
export { runGatewayNode, type GatewayNode, type GatewayNodeOptions } from './node.js';
