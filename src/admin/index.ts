// The admin API: JSON under /v1, every route guarded by a latchkey: permission,
// its OpenAPI document generated from the same route table that is served.
export { buildAdminServer, CORE_ROUTES, BODY_LIMIT_BYTES, type AdminServer, type AdminServerOptions } from './server.js';
export { route, type AdminRoute, type RouteInput } from './route.js';
export type { AdminContext } from './context.js';
export { parseInput, nameText, envName, serviceName, roleName } from './input.js';
export { defaultMaxTtl } from './routes/environments.js';
export { tokenView } from './views.js';
