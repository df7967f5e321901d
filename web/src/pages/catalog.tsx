import { useEffect, useState } from 'preact/hooks';
import { api, describeError, type Environment, type Role, type Service } from '../api.js';
import { PermissionPicker } from '../picker.js';
import { permissionWords } from '../words.js';

export function Catalog() {
  const [services, setServices] = useState<Service[] | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [envs, setEnvs] = useState<Environment[]>([]);
  const [error, setError] = useState('');
  const load = () => Promise.all([api('GET', '/v1/services'), api('GET', '/v1/roles'), api('GET', '/v1/environments')])
    .then(([s, r, e]) => { setServices(s.items); setRoles(r.items); setEnvs(e.items); }, (err) => setError(describeError(err)));
  useEffect(() => { void load(); }, []);
  if (error !== '') return <p role="alert" class="error">{error}</p>;
  if (services === null) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <h1>Services &amp; roles</h1>
      <div class="grid two">
        <section class="card" aria-labelledby="services-h">
          <h2 id="services-h">Services</h2>
          {services.length === 0 ? <p>No services yet.</p> : (
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Bindings</th></tr></thead>
              <tbody>{services.map((s) => (
                <tr key={s.name}><td>{s.name}</td><td>{s.kind}</td>
                  <td>{s.bindings.map((b) => <div key={b.env}><strong>{b.env}</strong> → <code>{b.upstream}</code>{b.credentialReady === false && <span class="warn"> credential missing</span>}</div>)}</td></tr>
              ))}</tbody>
            </table>
          )}
          <BindingForm services={services} envs={envs} onDone={load} />
          <ServiceForm envs={envs} onDone={load} />
        </section>
        <section class="card" aria-labelledby="roles-h">
          <h2 id="roles-h">Roles</h2>
          <RoleEditor services={services} roles={roles} onDone={load} />
        </section>
      </div>
    </>
  );
}

/** Edit a service: set (add or replace) its upstream and credential for one environment. */
function BindingForm({ services, envs, onDone }: { services: Service[]; envs: Environment[]; onDone: () => void }) {
  const [name, setName] = useState(services[0]?.name ?? '');
  const [env, setEnv] = useState(envs[0]?.name ?? 'dev');
  const [upstream, setUpstream] = useState('');
  const [variable, setVariable] = useState('');
  const [message, setMessage] = useState('');
  if (services.length === 0) return null;
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api('PUT', `/v1/services/${encodeURIComponent(name)}/bindings/${encodeURIComponent(env)}`, {
        upstream, ...(variable.trim() !== '' && { credential: { from: 'env', variable: variable.trim() } }),
      });
      setMessage(`Service ${name} now reaches ${upstream} in ${env}.`);
      setUpstream(''); setVariable('');
      onDone();
    } catch (err) {
      setMessage(describeError(err));
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="binding-form-h">
      <h3 id="binding-form-h">Set a service's upstream in an environment</h3>
      <div class="row">
        <div><label for="bind-service">Service to change</label>
          <select id="bind-service" value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)}>
            {services.map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
          </select></div>
        <div><label for="bind-env">In environment</label>
          <select id="bind-env" value={env} onChange={(e) => setEnv((e.target as HTMLSelectElement).value)}>
            {envs.map((e) => <option key={e.name} value={e.name}>{e.name}</option>)}
          </select></div>
      </div>
      <label for="bind-upstream">New upstream URL</label>
      <input id="bind-upstream" required value={upstream} placeholder="http://127.0.0.1:9000" onInput={(e) => setUpstream((e.target as HTMLInputElement).value)} />
      <label for="bind-var">Its credential environment variable (optional)</label>
      <input id="bind-var" value={variable} placeholder="STAGING_ORDERS_API_KEY" onInput={(e) => setVariable((e.target as HTMLInputElement).value)} />
      <p role="status" class="help">{message}</p>
      <button type="submit" class="secondary">Save binding</button>
    </form>
  );
}

function ServiceForm({ envs, onDone }: { envs: Environment[]; onDone: () => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('http');
  const [env, setEnv] = useState(envs[0]?.name ?? 'dev');
  const [upstream, setUpstream] = useState('');
  const [variable, setVariable] = useState('');
  const [message, setMessage] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api('POST', '/v1/services', {
        name, kind,
        bindings: [{ env, upstream, ...(variable.trim() !== '' && { credential: { from: 'env', variable: variable.trim() } }) }],
      });
      setMessage(`Service ${name} added.`);
      setName(''); setUpstream(''); setVariable('');
      onDone();
    } catch (err) {
      setMessage(describeError(err));
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="service-form-h">
      <h3 id="service-form-h">Add a service</h3>
      <div class="row">
        <div><label for="svc-name">Name</label><input id="svc-name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></div>
        <div><label for="svc-kind">Kind</label>
          <select id="svc-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="http">http</option><option value="postgres">postgres</option><option value="mcp">mcp</option>
          </select></div>
        <div><label for="svc-env">Environment</label>
          <select id="svc-env" value={env} onChange={(e) => setEnv((e.target as HTMLSelectElement).value)}>
            {envs.map((e) => <option key={e.name} value={e.name}>{e.name}</option>)}
          </select></div>
      </div>
      <label for="svc-upstream">Upstream URL</label>
      <input id="svc-upstream" required value={upstream} placeholder="http://127.0.0.1:9000" onInput={(e) => setUpstream((e.target as HTMLInputElement).value)} />
      <label for="svc-var">Credential environment variable (optional)</label>
      <input id="svc-var" value={variable} placeholder="DEV_ORDERS_API_KEY" onInput={(e) => setVariable((e.target as HTMLInputElement).value)} />
      <p role="status" class="help">{message}</p>
      <button type="submit">Add service</button>
    </form>
  );
}

function RoleEditor({ services, roles, onDone }: { services: Service[]; roles: Role[]; onDone: () => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  const edit = (role: Role) => { setEditing(role.name); setName(role.name); setDescription(role.description); setPermissions(role.permissions); setMessage(''); };
  const reset = () => { setEditing(null); setName(''); setDescription(''); setPermissions([]); };
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      if (editing === null) await api('POST', '/v1/roles', { name, ...(description !== '' && { description }), permissions });
      else await api('PUT', `/v1/roles/${encodeURIComponent(editing)}`, { description, permissions });
      setMessage(`Role ${name} ${editing === null ? 'created' : 'saved'}.`);
      reset();
      onDone();
    } catch (err) {
      setMessage(describeError(err));
    }
  };
  return (
    <>
      {roles.length === 0 ? <p>No roles yet.</p> : (
        <ul class="roles">{roles.map((r) => (
          <li key={r.name}>
            <strong>{r.name}</strong> {r.description !== '' && <span class="muted">{r.description}</span>}
            <button type="button" class="link" onClick={() => edit(r)} aria-label={`Edit role ${r.name}`}>Edit</button>
            <ul>{r.permissions.map((p) => <li key={p}><code>{p}</code> <span class="muted">{permissionWords(p)}</span></li>)}</ul>
          </li>
        ))}</ul>
      )}
      <form onSubmit={submit} aria-labelledby="role-form-h">
        <h3 id="role-form-h">{editing === null ? 'Create a role' : `Edit role ${editing}`}</h3>
        <label for="role-name">Role name</label>
        <input id="role-name" required value={name} disabled={editing !== null} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <label for="role-description">Description (optional)</label>
        <input id="role-description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        <PermissionPicker services={services} value={permissions} onChange={setPermissions} idPrefix="role" />
        {editing !== null && <p class="help">A role that live tokens hold can only be narrowed.</p>}
        <p role="status" class="help">{message}</p>
        <div class="row">
          <button type="submit" disabled={permissions.length === 0}>{editing === null ? 'Create role' : 'Save role'}</button>
          {editing !== null && <button type="button" class="secondary" onClick={reset}>Cancel</button>}
        </div>
      </form>
    </>
  );
}
