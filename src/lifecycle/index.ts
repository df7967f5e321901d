// The token lifecycle as operators and holders drive it: minting with every
// constraint checked first, deriving children within their ancestors,
// rotation, and the service catalog permissions are validated against.
export { mintToken, prepareMint, type MintRequest, type MintResult, type PreparedMint } from './mint.js';
export { checkMintScope, type MintAuthority } from './mint-scope.js';
export { loadServiceCatalog } from './catalog.js';
export { cidrWithin, parseCidr } from './cidr.js';
export { DEFAULT_MAX_DEPTH, rateWithin, resolveChild, type Ancestor, type ChildLimits, type ChildRequest } from './derive.js';
export { chainOf, descendantsOf, effectivePermissions, remainingUses, type TokenTree } from './lineage.js';
export { deriveToken, rotateToken, type DeriveOptions, type RotateResult } from './operations.js';
