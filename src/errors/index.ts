// Reason codes and the error type shared by every part of Latchkey: gateway
// refusals, admin API errors, CLI messages and audit events use one vocabulary.
export { REASONS, type ReasonCode } from './registry.js';
export { LatchkeyError, invalid, notFound } from './latchkey-error.js';
