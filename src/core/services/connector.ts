import type { ServiceKind } from '../../store/records.js';
import type { OwnListeners } from './own-listeners.js';
import type { UpstreamTarget } from './target.js';

/**
 * How the services of one kind reach their upstreams: the HTTP adapter's
 * keep-alive pools now, a PostgreSQL backend connector and an MCP client
 * when those gateways land. The service table keeps one connection per
 * target across reloads and closes those whose target went away.
 */
export interface Connector<Connection = unknown> {
  readonly kind: ServiceKind;
  /** A binding's upstream as this kind writes it; throws with a message when it is not one. */
  parse(upstream: string): UpstreamTarget;
  /** A connection (pool) to the target, guarded against Latchkey's own listeners. */
  open(target: UpstreamTarget, own: OwnListeners): Connection;
  /** False once a connection can no longer be used (closed by a reload): a new one is opened. */
  usable(connection: Connection): boolean;
  close(connection: Connection): Promise<void>;
}
