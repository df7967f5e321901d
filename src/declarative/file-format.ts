import { z } from 'zod';
import { parseDuration } from '../config/index.js';
import { envName, nameText, roleName, serviceName } from '../admin/index.js';
import { PATH_MATCHINGS } from '../policy/index.js';
import { HEADER_UNDERSCORES } from '../store/records.js';

// The file `latchkey apply` reads and `latchkey export` writes. Every
// collection is a map keyed by name, so a name cannot appear twice (the YAML
// parser refuses duplicate keys) and a diff in review shows the name. An
// upstream credential is named by where the gateway reads it — an environment
// variable or a file — never by its value; read-file.ts refuses anything that
// looks like a secret before this schema runs.

const duration = z.string().refine((text) => parseDuration(text) !== undefined, 'expected a duration such as 30d, 12h or 2w');
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name');
const envVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');

const credential = z.strictObject({
  env: envVariable.optional().describe('the variable in the gateway\'s environment that holds the upstream secret'),
  file: z.string().min(1).max(4096).optional().describe('the file on the gateway\'s disk that holds the upstream secret'),
  header: headerName.optional(),
  scheme: z.string().max(32).optional(),
}).superRefine((value, context) => {
  if ((value.env === undefined) === (value.file === undefined)) {
    context.addIssue({ code: 'custom', message: 'give exactly one of env (a variable name) or file (a path): where the gateway reads the secret' });
  }
});

const binding = z.strictObject({
  upstream: z.string().min(1).max(2048),
  credential: credential.optional(),
});

const service = z.strictObject({
  kind: z.enum(['http', 'postgres', 'mcp']),
  paths: z.enum(PATH_MATCHINGS).optional(),
  headerUnderscores: z.enum(HEADER_UNDERSCORES).optional(),
  tokenHeader: headerName.optional(),
  maxBodyBytes: z.int().min(0).max(1024 * 1024 * 1024).optional(),
  sqlFunctions: z.array(z.string().regex(/^[a-z_][a-z0-9_$]{0,62}(\.[a-z_][a-z0-9_$]{0,62})?$/, 'must be a function name: name or schema.name, lower case')).max(256).optional(),
  hiddenTools: z.array(z.string().regex(/^[A-Za-z0-9_*./-]{1,128}$/, 'must be a tool name pattern: letters, digits, _ - . / and *')).max(256).optional(),
  bindings: z.record(envName, binding).default({}),
}).superRefine((value, context) => {
  if (value.sqlFunctions !== undefined && value.kind !== 'postgres') {
    context.addIssue({ code: 'custom', path: ['sqlFunctions'], message: 'only a postgres service has a function allow-list' });
  }
  if (value.hiddenTools !== undefined && value.kind !== 'mcp') {
    context.addIssue({ code: 'custom', path: ['hiddenTools'], message: 'only an mcp service has tools to hide' });
  }
});

const role = z.strictObject({
  description: nameText.optional().describe('left as it is on the server when omitted'),
  permissions: z.array(z.string().min(1).max(512)).min(1, 'a role needs at least one permission').max(500),
});

export const latchkeyFile = z.strictObject({
  version: z.literal(1).optional(),
  environments: z.record(envName, z.strictObject({ maxTtl: duration.optional() }).nullable()).default({}),
  services: z.record(serviceName, service).default({}),
  roles: z.record(roleName, role).default({}),
});

export type LatchkeyFile = z.infer<typeof latchkeyFile>;
export type ServiceEntry = z.infer<typeof service>;
export type BindingEntry = z.infer<typeof binding>;
export type CredentialEntry = z.infer<typeof credential>;
export type RoleEntry = z.infer<typeof role>;
