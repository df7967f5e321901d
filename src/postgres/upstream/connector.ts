import type { Connector } from '../../core/services/connector.js';
import type { BindingRoute } from '../../core/services/service-table.js';
import type { OwnListeners } from '../../core/services/own-listeners.js';
import { parsePostgresUpstream, type PostgresTarget } from './target.js';

// The postgres kind's connector for the service table: what a binding holds
// is where and as whom to connect; each client session opens its own
// backend (src/postgres/upstream/connect.ts), so there is no pool to close.

export interface PostgresEndpoint {
  readonly target: PostgresTarget;
  readonly own: OwnListeners;
  closed: boolean;
}

export function postgresConnector(): Connector<PostgresEndpoint> {
  return {
    kind: 'postgres',
    parse: parsePostgresUpstream,
    open: (target, own) => ({ target: target as PostgresTarget, own, closed: false }),
    usable: (endpoint) => !endpoint.closed,
    close: async (endpoint) => {
      endpoint.closed = true;
    },
  };
}

/** The endpoint of a postgres service's binding (the service table holds connections untyped). */
export function endpointOf(binding: BindingRoute): PostgresEndpoint {
  return binding.connection as PostgresEndpoint;
}
