import { ConfigError, type LatchkeyConfig } from '../config/index.js';
import type { StartPlaneListener } from '../gateway/node.js';
import type { ListenAddress } from '../gateway/options.js';
import { loadPostgresTls, loadSqlParser, PostgresTlsError, startPostgresGateway, type PostgresTls } from '../postgres/index.js';

// `latchkey gateway --pg`: the PostgreSQL gateway as a listener on the node's
// data plane (whose service table has the postgres connector, see
// postgresConnectors), at listen.postgres or the address given.

export function postgresOnNode(config: LatchkeyConfig, listen: ListenAddress = config.listen.postgres): StartPlaneListener {
  const tls = postgresTlsOf(config);
  return async (plane, context) => {
    await loadSqlParser();
    const gateway = await startPostgresGateway({
      plane, listen, logger: context.logger, maxMessageBytes: config.postgres.maxMessageBytes,
      ...(tls !== undefined && { tls }),
      ...(context.clock !== undefined && { clock: context.clock }),
      ...(context.alerts !== undefined && { alerts: context.alerts }),
    });
    return { name: 'postgres gateway', address: gateway.address, close: () => gateway.close() };
  };
}

export { postgresConnector } from '../postgres/index.js';

/** postgres.tls read and checked (before any listener starts); a ConfigError naming the files when unusable. */
export function postgresTlsOf(config: LatchkeyConfig): PostgresTls | undefined {
  if (config.postgres.tls === undefined) return undefined;
  try {
    return loadPostgresTls(config.postgres.tls);
  } catch (err) {
    throw err instanceof PostgresTlsError ? new ConfigError(err.message) : err;
  }
}
