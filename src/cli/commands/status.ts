import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { block, inWords } from '../output.js';

// `latchkey status`, as `gh auth status`: which admin API, which admin token
// (hint, expiry, permissions), the server's version and health.

interface Self {
  token: { id: string; name: string; hint: string; env: string; status: string; expiresAt: string };
  effectivePermissions: string[];
  server: { version: string };
}

export function registerStatus(program: Command): void {
  program.command('status')
    .description('which admin API and admin token this command line uses, and whether the server is healthy')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const ready = await client.probe('/readyz');
      const self = await client.call<Self>('GET', '/v1/self');
      const status = {
        adminApi: client.url,
        server: { version: self.server.version, ready: ready.ok, ...(ready.ok ? {} : { problem: ready.problem }) },
        adminToken: { ...self.token, source: client.tokenSource },
        permissions: self.effectivePermissions,
      };
      out.print(status, () => block({
        'admin API': `${client.url} (latchkey ${self.server.version}, ${ready.ok ? 'ready' : `not ready: ${ready.problem}`})`,
        'admin token': `${self.token.hint} ${self.token.id} "${self.token.name}" in ${self.token.env}, from ${client.tokenSource}`,
        status: self.token.status,
        expires: `${self.token.expiresAt} (${inWords(Date.parse(self.token.expiresAt) - Date.now())})`,
        permissions: self.effectivePermissions,
      }));
    });
}
