// The actions of the admin API's own permissions (`latchkey:<action>[:<env>]`).
// A permission naming an action outside this list is invalid.

export const ADMIN_ACTIONS = [
  'environments.read',
  'environments.write',
  'services.read',
  'services.write',
  'roles.read',
  'roles.write',
  'tokens.create',
  'tokens.read',
  'tokens.revoke',
  'tokens.update',
  'tokens.derive',
  'tokens.rotate',
  'reports.read',
  'audit.read',
  'audit.write',
  'check',
] as const;

export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** The service name under which the admin API's permissions live. */
export const ADMIN_SERVICE = 'latchkey';
