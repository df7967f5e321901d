// The PostgreSQL adapter: protocol v3 both ways (wire/), a session per client
// relaying to its own upstream backend (session/, upstream/), every statement
// authorized by the SQL analysis (sql/) against the token, through the data-plane core.
export { startPostgresGateway, type PostgresGateway, type PostgresGatewayOptions } from './listener.js';
export { postgresConnector } from './upstream/connector.js';
export { loadSqlParser } from './sql/index.js';
export { loadPostgresTls, PostgresTlsError, type PostgresTls } from './tls.js';
