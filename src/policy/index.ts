// The permission engine: parses `[!]service:action[:resource]` permissions,
// compiles a token's grant into per-service matchers that decide every request
// (with the reason why), normalizes request paths, and checks grant containment.
export type { CompiledGrant, Decision, NormalizedPath, Permission, PolicyServiceKind, ServiceCatalog } from './types.js';
export { ADMIN_ACTIONS, ADMIN_SERVICE, type AdminAction } from './admin-actions.js';
export { HTTP_METHODS, MCP_ACTIONS, POSTGRES_ACTIONS, actionsOf, actionWords, type HttpMethod, type McpAction, type PostgresAction } from './grammar.js';
export { MAX_PERMISSION_LENGTH, parseGrant, parsePermission, parsePermissions, permissionText, type RolePermissions } from './parse-permission.js';
export { compileGrant } from './compile-grant.js';
export { plainDecision } from './decisions.js';
export { normalizePath } from './normalize-path.js';
export { foldRequestSegments, PATH_MATCHINGS, type FoldedPath, type PathMatching } from './path-matching.js';
export { isWithin } from './within.js';
export { adminScope, type AdminScope } from './resource-syntax.js';
export { GATEWAY_METHODS, readMethodOverride } from './method-override.js';
export { authorizedPath, splitServicePath, type AuthorizedPath } from './http-target.js';
export { compileGlob, type NameMatcher } from './name-glob.js';
export { classifyMessage, decideTarget, wholeServiceAllow, type ListKind, type McpMessage, type MessageTarget } from './mcp-target.js';
