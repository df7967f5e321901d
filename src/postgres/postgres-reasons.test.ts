// The reason-code contract (core/reason.contract.ts) run for the PostgreSQL
// adapter: every data-plane code it can produce, produced by a real session and
// audited; the ones it cannot, declared with why.
import { runReasonContract } from '../core/reason.contract.js';
import { postgresReasonAdapter } from './testing/pg-reason-adapter.js';

runReasonContract('postgres', postgresReasonAdapter);
