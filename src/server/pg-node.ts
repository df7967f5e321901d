import type { LatchkeyConfig } from '../config/index.js';
import type { StartPlaneListener } from '../gateway/node.js';
import type { ListenAddress } from '../gateway/options.js';
import { loadSqlParser, startPostgresGateway } from '../postgres/index.js';

// `latchkey gateway --pg`: the PostgreSQL gateway as a listener on the node's
// data plane (whose service table has the postgres connector, see
// postgresConnectors), at listen.postgres or the address given.

export function postgresOnNode(config: LatchkeyConfig, listen: ListenAddress = config.listen.postgres): StartPlaneListener {
  return async (plane, context) => {
    await loadSqlParser();
    const gateway = await startPostgresGateway({ plane, listen, logger: context.logger, ...(context.clock !== undefined && { clock: context.clock }) });
    return { name: 'postgres gateway', address: gateway.address, close: () => gateway.close() };
  };
}

export { postgresConnector } from '../postgres/index.js';
