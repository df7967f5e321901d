// The limits stage: GCRA rate limits and usage caps per token, shared across
// nodes through one atomic Redis script when Redis is configured, per node
// otherwise, falling back to per node when Redis goes away.
export { gcraStep, retryAfterSeconds } from './gcra.js';
export { ALLOWED, EXHAUSTED, type LimitSubject, type LimitVerdict, type Limiter } from './limiter.js';
export { LocalLimiter } from './local-limiter.js';
export { RedisLimiter, type RedisLimiterOptions } from './redis-limiter.js';
export { InFlight, type InFlightLimits, type InFlightRefusal } from './in-flight.js';
