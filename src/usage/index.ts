// Usage per token and permission: counted in memory from the gateway's
// decisions, flushed to the store, read by reports and the scheduler.
export { UsageCounter, type UsageCounterOptions } from './usage-counter.js';
