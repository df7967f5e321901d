// The token cache: tokens keyed by their keyed hash, each compiled once into
// what the core needs (grant, CIDRs, limits, lineage), kept
// current by the change feed and bounded in staleness when the feed is lost.
export { TokenCache, UNAVAILABLE, cacheKeyOf, type TokenCacheOptions } from './token-cache.js';
export { TokenLoader, type TokenLoaderOptions, type GrantCompiler } from './token-loader.js';
export { compileTokenGrant } from './grant.js';
export { compileCidrs, parseAddress, type CidrSet, type ParsedAddress } from './cidr.js';
export type { TokenEntry, UnknownEntry, CacheEntry } from './token-entry.js';
