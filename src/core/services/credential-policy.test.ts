import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.js';
import { CredentialPolicy } from './credential-policy.js';
import { dropClientCopies } from './credential.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'latchkey-policy-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function policyOf(file: object, env: NodeJS.ProcessEnv = {}): CredentialPolicy {
  const configFile = join(dir, 'latchkey.json');
  writeFileSync(configFile, JSON.stringify(file));
  return CredentialPolicy.forConfig(loadConfig({ configFile, dataDir: join(dir, 'data') }, env));
}

describe('credential allow-list from the configuration', () => {
  it('defaults each environment to its own upper-case prefix, with no overlap between dev and dev2', () => {
    const policy = policyOf({});
    expect(policy.checkVariable('dev', 'DEV_ORDERS_KEY')).toBeNull();
    expect(policy.checkVariable('dev', 'DEV2_ORDERS_KEY')).toMatch(/not allowed for environment dev \(allowed: DEV_\*/);
    expect(policy.checkVariable('dev2', 'DEV2_ORDERS_KEY')).toBeNull();
    expect(policy.checkVariable('dev', 'dev_orders_key')).not.toBeNull();
  });

  it('takes globs per environment; a key left out keeps its default; [] allows nothing', () => {
    const policy = policyOf({ credentials: { prod: { variables: ['ORDERS_*_LIVE'] }, dev: { directories: ['/run/secrets/dev'] }, qa: { variables: [] } } });
    expect(policy.checkVariable('prod', 'ORDERS_EU_LIVE')).toBeNull();
    expect(policy.checkVariable('prod', 'PROD_ORDERS')).not.toBeNull();
    expect(policy.checkVariable('dev', 'DEV_ORDERS')).toBeNull();
    expect(policy.checkVariable('qa', 'QA_ORDERS')).toMatch(/allowed: none/);
  });

  it('refuses Latchkey\'s own variables even where a glob would allow them', () => {
    const policy = policyOf({ credentials: { prod: { variables: ['*'] } }, audit: { webhook: { url: 'https://hooks.example.test/x', secretEnv: 'HOOK_SECRET' } } });
    expect(policy.checkVariable('prod', 'ANYTHING')).toBeNull();
    for (const own of ['LATCHKEY_SECRET', 'LATCHKEY_STORE', 'Latchkey_Secret', 'HOOK_SECRET', 'PGPASSWORD', 'PGPASSFILE']) {
      expect([own, policy.checkVariable('prod', own)]).toEqual([own, expect.stringMatching(/Latchkey's own/)]);
    }
  });

  it('reads LATCHKEY_CREDENTIALS as JSON in place of the file\'s section, and names a bad key', () => {
    const policy = policyOf({ credentials: { dev: { variables: ['FILE_*'] } } }, { LATCHKEY_CREDENTIALS: '{"dev":{"variables":["ENVVAR_*"]}}' });
    expect(policy.checkVariable('dev', 'ENVVAR_X')).toBeNull();
    expect(policy.checkVariable('dev', 'FILE_X')).not.toBeNull();
    expect(() => policyOf({}, { LATCHKEY_CREDENTIALS: '{"dev":{"directories":["relative/dir"]}}' })).toThrow(/LATCHKEY_CREDENTIALS: dev\.directories\.0/);
    expect(() => policyOf({}, { LATCHKEY_CREDENTIALS: 'not json' })).toThrow(/LATCHKEY_CREDENTIALS: must be JSON/);
    expect(() => policyOf({ credentials: { Prod: {} } })).toThrow(/credentials/);
  });
});

describe('dropClientCopies', () => {
  it('removes every copy of the header whatever its case, keeps the rest in order', () => {
    const forward = ['X-Api-Key', 'a', 'accept', 'json', 'x-API-key', 'b', 'x-api-keys', 'c'];
    dropClientCopies(forward, 'x-api-key');
    expect(forward).toEqual(['accept', 'json', 'x-api-keys', 'c']);
  });
});
