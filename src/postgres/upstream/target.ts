// Parsed in the core, so the admin API refuses at write time what the gateway would skip at load.
export { parsePostgresUpstream, type PostgresTarget } from '../../core/services/postgres-target.js';
