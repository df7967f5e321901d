import type { UpstreamTarget } from '../../core/services/target.js';

// A postgres service's upstream, parsed once when the service table loads:
// `postgres://host:port/database?user=ROLE`. The role is named in the query
// (the admin API refuses credentials in the URL); its password is the
// binding's credential, read from the environment or a file.

export interface PostgresTarget extends UpstreamTarget {
  readonly database: string;
  readonly user: string;
}

const ROLE = /^[A-Za-z_][A-Za-z0-9_$.-]{0,62}$/;

export function parsePostgresUpstream(text: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`invalid upstream URL ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`a postgres service needs a postgres:// upstream, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new Error('upstream URLs must not carry credentials; use a credential source');
  if (url.hash !== '') throw new Error('upstream URLs must not have a fragment');
  const keys = [...url.searchParams.keys()];
  if (keys.some((key) => key !== 'user') || keys.length !== 1) throw new Error('a postgres upstream names its role as ?user=ROLE, and nothing else in the query');
  const user = url.searchParams.get('user')!;
  if (!ROLE.test(user)) throw new Error(`invalid upstream role ${JSON.stringify(user.slice(0, 64))}`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw new Error('a postgres upstream names one database: postgres://host:port/database?user=ROLE');
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (hostname === '') throw new Error('a postgres upstream needs a host');
  const port = url.port === '' ? 5432 : Number(url.port);
  const origin = `postgres://${url.host}`;
  return { origin, socketPath: null, hostname, port, tls: false, basePath: '', key: `${origin}/${database}?user=${user}`, database, user };
}
