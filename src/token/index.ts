// The token format (lk_<env>_<random><checksum>), its keyed hash at rest and
// the display hint. Nothing here touches storage; the store keeps only hashes.
export { generateToken, parseToken, checksumOf, displayHint, MAX_TOKEN_LENGTH, ENV_PATTERN, type ParsedToken } from './format.js';
export { TokenHasher } from './keyed-hash.js';
export { newTokenId } from './ids.js';
