import type { LatchkeyConfig } from '../config/index.js';
import { startForwardAuth } from '../forward-auth/index.js';
import { forwardAuthSecret } from '../forward-auth/secret-env.js';
import type { StartPlaneListener } from '../gateway/node.js';
import type { ListenAddress } from '../gateway/options.js';

// `latchkey gateway --auth`: the forward-auth endpoint as a listener on the
// node's data plane, configured as serve's is (listen.auth, forwardAuth.*).
// The secret is read here, before the node starts, so a missing one stops the start.

export function forwardAuthOnNode(config: LatchkeyConfig, listen: ListenAddress = config.listen.auth): StartPlaneListener {
  const secret = forwardAuthSecret(config);
  return async (plane, context) => {
    const endpoint = await startForwardAuth({
      plane,
      listen,
      trustedProxies: config.forwardAuth.trustedProxies,
      secret,
      credentialServices: config.forwardAuth.credentialServices,
      ...context,
    });
    return { name: 'forward-auth', address: endpoint.address, close: () => endpoint.close() };
  };
}
