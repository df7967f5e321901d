// The token scheduler: the time rules (grace ends, expiry, notices, auto-disable
// of unused tokens), run by one leader among the processes sharing a store.
export { LifecycleScheduler, SCHEDULER_ACTOR, SOLE_LEADER, type Leadership, type SchedulerOptions, type SchedulerRun } from './scheduler.js';
export { PostgresLeadership } from './pg-leader.js';
