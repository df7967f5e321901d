import { useState } from 'preact/hooks';
import type { Service } from './api.js';
import { permissionWords } from './words.js';

// The permission picker: a service, then what its kind can be asked to do
// (methods and a path pattern for HTTP, statements and a table pattern for
// PostgreSQL, tool calls and a name pattern for MCP), added as permission text.

const ACTIONS: Record<Service['kind'], string[]> = {
  http: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'read', 'write'],
  postgres: ['select', 'insert', 'update', 'delete', 'truncate', 'ddl'],
  mcp: ['call', 'read', 'get'],
};
const RESOURCE: Record<Service['kind'], { label: string; placeholder: string }> = {
  http: { label: 'Path pattern', placeholder: '/v1/orders/*' },
  postgres: { label: 'Table pattern', placeholder: 'public.orders' },
  mcp: { label: 'Tool, prompt or resource pattern', placeholder: 'list_*' },
};

export function PermissionPicker({ services, value, onChange, idPrefix }: { services: Service[]; value: string[]; onChange: (next: string[]) => void; idPrefix: string }) {
  const [serviceName, setServiceName] = useState(services[0]?.name ?? '');
  const [actions, setActions] = useState<string[]>([]);
  const [resource, setResource] = useState('');
  const [deny, setDeny] = useState(false);
  const [raw, setRaw] = useState('');
  const service = services.find((s) => s.name === serviceName);
  const add = (texts: string[]) => onChange([...value, ...texts.filter((t) => t !== '' && !value.includes(t))]);
  const addPicked = () => {
    if (service === undefined || actions.length === 0) return;
    add(actions.map((a) => `${deny ? '!' : ''}${service.name}:${a}${resource.trim() === '' ? '' : `:${resource.trim()}`}`));
    setActions([]);
    setResource('');
    setDeny(false);
  };
  const id = (name: string) => `${idPrefix}-${name}`;
  return (
    <fieldset class="picker">
      <legend>Permissions</legend>
      {services.length === 0 ? <p>No services yet: add one under Services &amp; roles.</p> : (
        <div class="row">
          <div>
            <label for={id('service')}>Service</label>
            <select id={id('service')} value={serviceName} onChange={(e) => { setServiceName((e.target as HTMLSelectElement).value); setActions([]); }}>
              {services.map((s) => <option key={s.name} value={s.name}>{s.name} ({s.kind})</option>)}
            </select>
          </div>
          {service !== undefined && (
            <div class="grow">
              <label for={id('resource')}>{RESOURCE[service.kind].label}</label>
              <input id={id('resource')} value={resource} placeholder={RESOURCE[service.kind].placeholder}
                onInput={(e) => setResource((e.target as HTMLInputElement).value)} aria-describedby={id('resource-help')} />
              <p class="help" id={id('resource-help')}>Empty means every resource. <code>*</code> one segment, <code>**</code> any depth.</p>
            </div>
          )}
        </div>
      )}
      {service !== undefined && (
        <>
          <fieldset class="inline">
            <legend>{service.kind === 'http' ? 'Methods' : service.kind === 'postgres' ? 'Statements' : 'Actions'}</legend>
            {ACTIONS[service.kind].map((a) => (
              <label key={a} class="check">
                <input type="checkbox" checked={actions.includes(a)}
                  onChange={(e) => setActions((e.target as HTMLInputElement).checked ? [...actions, a] : actions.filter((x) => x !== a))} />
                {a}
              </label>
            ))}
          </fieldset>
          <div class="row middle">
            <label class="check"><input type="checkbox" checked={deny} onChange={(e) => setDeny((e.target as HTMLInputElement).checked)} /> Deny (wins over any allow)</label>
            <button type="button" class="secondary" onClick={addPicked} disabled={actions.length === 0}>Add permission</button>
          </div>
        </>
      )}
      <div class="row">
        <div>
          <label for={id('raw')}>Or type a permission</label>
          <input id={id('raw')} value={raw} placeholder="orders:GET:/v1/orders/*" spellcheck={false}
            onInput={(e) => setRaw((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add([raw.trim()]); setRaw(''); } }} />
        </div>
        <button type="button" class="secondary" onClick={() => { add([raw.trim()]); setRaw(''); }} disabled={raw.trim() === ''}>Add</button>
      </div>
      {value.length > 0 && (
        <ul class="chips" aria-label="Chosen permissions">
          {value.map((p) => (
            <li key={p}>
              <code>{p}</code> <span class="muted">{permissionWords(p)}</span>
              <button type="button" class="link" aria-label={`Remove ${p}`} onClick={() => onChange(value.filter((x) => x !== p))}>Remove</button>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
