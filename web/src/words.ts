// A grant in plain words, as it is built: "can GET /v1/orders/* on orders in
// prod until 2 Dec 2026, 10:00 UTC, from 10.0.0.0/8".

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function utc(time: number | string): string {
  const d = new Date(time);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

export function ago(time: number | string, now = Date.now()): string {
  const s = Math.round((now - new Date(time).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const ACTION_WORDS: Record<string, string> = {
  read: 'read (GET, HEAD, OPTIONS)', write: 'write (POST, PUT, PATCH)', '*': 'do anything', call: 'call the tool', get: 'get the prompt',
  select: 'SELECT from', insert: 'INSERT into', update: 'UPDATE', delete: 'DELETE', truncate: 'TRUNCATE', ddl: 'change the schema of',
};

/** One permission `service:action[:resource]` in words. */
export function permissionWords(text: string): string {
  const deny = text.startsWith('!');
  const body = deny ? text.slice(1) : text;
  const [service, action = '*', ...rest] = body.split(':');
  const resource = rest.join(':');
  const verb = /^[A-Z]+$/.test(action) ? action : ACTION_WORDS[action] ?? action;
  const what = `${verb} ${resource === '' ? 'everything' : resource} on ${service}`;
  return deny ? `never ${what}` : what;
}

export interface GrantShape {
  permissions: string[];
  roles: Array<{ name: string; permissions: string[] }>;
  env: string;
  expiresAt: number | null;
  cidrs: string[];
  rate: string;
  maxUses: string;
}

export function grantWords(grant: GrantShape): string {
  const allows = [
    ...grant.permissions.filter((p) => !p.startsWith('!')).map(permissionWords),
    ...grant.roles.flatMap((r) => r.permissions.filter((p) => !p.startsWith('!')).map((p) => `${permissionWords(p)} (role ${r.name})`)),
  ];
  const denies = [...grant.permissions, ...grant.roles.flatMap((r) => r.permissions)].filter((p) => p.startsWith('!')).map(permissionWords);
  if (allows.length === 0) return 'can do nothing yet: pick a permission or a role';
  let text = `can ${allows.join(', ')}`;
  if (denies.length > 0) text += `, but ${denies.join(', ')},`;
  text += ` in ${grant.env || '…'} until ${grant.expiresAt === null ? '…' : utc(grant.expiresAt)}`;
  const cidrs = grant.cidrs.filter((c) => c.trim() !== '');
  if (cidrs.length > 0) text += `, from ${cidrs.join(', ')}`;
  if (grant.rate.trim() !== '') text += `, at most ${grant.rate.trim()}`;
  if (grant.maxUses.trim() !== '') text += `, for ${grant.maxUses.trim()} requests in all`;
  return text;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
export function ttlMs(ttl: string): number | null {
  const match = /^(\d+)([mhd])$/.exec(ttl);
  return match === null ? null : Number(match[1]) * UNITS[match[2]!]!;
}
