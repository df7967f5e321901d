// The token lifecycle as operators drive it: minting with every constraint
// checked first, the service catalog permissions are validated against.
export { mintToken, type MintRequest, type MintResult } from './mint.js';
export { checkMintScope, type MintAuthority } from './mint-scope.js';
export { loadServiceCatalog } from './catalog.js';
export { parseCidr } from './cidr.js';
