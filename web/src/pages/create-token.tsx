import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, type Environment, type Role, type Service, type Token } from '../api.js';
import { PermissionPicker } from '../picker.js';
import { grantWords, ttlMs, utc } from '../words.js';

// The least-privileged token is the quickest one to make: a short expiry by
// default (1 day), one environment, the picker, and the grant read back in
// plain words before anything is created.

const TTLS = ['15m', '1h', '8h', '1d', '7d', '30d'];

export function CreateToken() {
  const [services, setServices] = useState<Service[] | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [name, setName] = useState('');
  const [env, setEnv] = useState('');
  const [chosenRoles, setChosenRoles] = useState<string[]>([]);
  const [permissions, setPermissions] = useState<string[]>([]);
  const [ttl, setTtl] = useState('1d');
  const [cidrs, setCidrs] = useState('');
  const [rate, setRate] = useState('');
  const [maxUses, setMaxUses] = useState('');
  const [error, setError] = useState('');
  const [created, setCreated] = useState<(Token & { token: string }) | null>(null);
  useEffect(() => {
    Promise.all([api('GET', '/v1/services'), api('GET', '/v1/roles'), api('GET', '/v1/environments')]).then(([s, r, e]) => {
      setServices(s.items); setRoles(r.items); setEnvs(e.items);
      setEnv((current) => current || (e.items.find((x: Environment) => x.name === 'dev') ?? e.items[0])?.name || '');
    }, (err) => setError(describeError(err)));
  }, []);
  if (created !== null) return <Reveal created={created} />;
  if (services === null) return error !== '' ? <p role="alert" class="error">{error}</p> : <p aria-busy="true">Loading…</p>;

  const cidrList = cidrs.split(/[\s,]+/).filter((c) => c !== '');
  const ms = ttlMs(ttl);
  const words = grantWords({ permissions, roles: roles.filter((r) => chosenRoles.includes(r.name)), env, expiresAt: ms === null ? null : Date.now() + ms, cidrs: cidrList, rate, maxUses });
  const submit = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      setCreated(await api('POST', '/v1/tokens', {
        name, env, roles: chosenRoles, permissions, ttl, cidrs: cidrList,
        ...(rate.trim() !== '' && { rate: rate.trim() }),
        ...(maxUses.trim() !== '' && { maxUses: Number(maxUses) }),
      }));
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <h1>Create a token</h1>
      <form onSubmit={submit} class="card">
        <div class="row">
          <div><label for="token-name">Name</label>
            <input id="token-name" required value={name} placeholder="ci-deploy" onInput={(e) => setName((e.target as HTMLInputElement).value)} /></div>
          <div><label for="token-env">Environment</label>
            <select id="token-env" value={env} onChange={(e) => setEnv((e.target as HTMLSelectElement).value)}>
              {envs.map((e) => <option key={e.name} value={e.name}>{e.name}</option>)}
            </select></div>
          <div><label for="token-ttl">Expires in</label>
            <select id="token-ttl" value={ttl} onChange={(e) => setTtl((e.target as HTMLSelectElement).value)} aria-describedby="ttl-help">
              {TTLS.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
            <p class="help" id="ttl-help">Required. Short is safer: 1 day unless the job needs longer.</p></div>
        </div>
        {roles.length > 0 && (
          <fieldset>
            <legend>Roles</legend>
            {roles.map((r) => (
              <label key={r.name} class="check">
                <input type="checkbox" checked={chosenRoles.includes(r.name)}
                  onChange={(e) => setChosenRoles((e.target as HTMLInputElement).checked ? [...chosenRoles, r.name] : chosenRoles.filter((x) => x !== r.name))} />
                {r.name} <span class="muted">{r.permissions.join(', ')}</span>
              </label>
            ))}
          </fieldset>
        )}
        <PermissionPicker services={services} value={permissions} onChange={setPermissions} idPrefix="token" />
        <fieldset>
          <legend>Constraints</legend>
          <div class="row">
            <div><label for="token-cidrs">Client addresses (CIDRs, optional)</label>
              <input id="token-cidrs" value={cidrs} placeholder="10.0.0.0/8, 192.0.2.7" onInput={(e) => setCidrs((e.target as HTMLInputElement).value)} /></div>
            <div><label for="token-rate">Rate limit (optional)</label>
              <input id="token-rate" value={rate} placeholder="100/min" onInput={(e) => setRate((e.target as HTMLInputElement).value)} /></div>
            <div><label for="token-uses">Maximum uses (optional)</label>
              <input id="token-uses" type="number" min="1" value={maxUses} onInput={(e) => setMaxUses((e.target as HTMLInputElement).value)} /></div>
          </div>
        </fieldset>
        <section class="summary" aria-live="polite" aria-labelledby="summary-h">
          <h2 id="summary-h">This token</h2>
          <p data-testid="grant-words">{name === '' ? 'The token' : <strong>{name}</strong>} {words}.</p>
        </section>
        {error !== '' && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={permissions.length === 0 && chosenRoles.length === 0}>Create token</button>
      </form>
    </>
  );
}

export function Reveal({ created }: { created: Token & { token: string } }) {
  const [copied, setCopied] = useState('');
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied to the clipboard.');
    } catch {
      field.current?.select();
      setCopied('Select the token and copy it with Ctrl+C / ⌘C.');
    }
  };
  return (
    <>
      <h1>Token {created.name} created</h1>
      <section class="card reveal" aria-labelledby="reveal-h">
        <h2 id="reveal-h">Copy the token now</h2>
        <p class="warn" role="note"><strong>It will not be shown again.</strong> Latchkey keeps only a keyed hash of it. If it is lost, revoke it and create another.</p>
        <label for="token-plaintext">Token</label>
        <div class="row">
          <input id="token-plaintext" ref={field} readOnly value={created.token} spellcheck={false} class="mono" onFocus={(e) => (e.target as HTMLInputElement).select()} />
          <button type="button" onClick={copy}>Copy</button>
        </div>
        <p role="status" class="help">{copied}</p>
        <p>{created.env} · expires {utc(created.expiresAt)} · id <code>{created.id}</code></p>
        <a class="button secondary" href={`#/tokens/${created.id}`}>I have stored it: show the token</a>
      </section>
    </>
  );
}
