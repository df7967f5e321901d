// Usage per token and permission: counted in memory from the gateway's
// decisions, flushed to the store, read by reports and the scheduler.
export { DAY_MS, MAX_SEEN_RESOURCE, SEEN_PER_DAY, UsageCounter, type UsageCounterOptions } from './usage-counter.js';
