import { useEffect, useState } from 'preact/hooks';
import { api, describeError, servedRoutes, type AuditEvent, type Role, type Token } from '../api.js';
import { BarChart } from '../chart.js';
import { ago, permissionWords, utc } from '../words.js';
import { Reveal } from './create-token.js';

// A token in full: what it can do (its roles expanded), its constraints, its
// use per permission over time (from its audit events), its children, and the
// changes an operator makes to it. Rotate and narrow appear when this
// server's OpenAPI document lists their routes (issue 13); deriving is done by
// a token's holder with its own token (POST /v1/tokens/derive), not from here.

type Decision = Extract<AuditEvent, { kind: 'decision' }>;
const CLASSES = ['s1', 's2', 's3', 's4', 's5', 's6'];
const HOUR = 3_600_000;
const PERIODS: Record<number, string> = { 1000: 's', 60_000: 'min', [HOUR]: 'h', [24 * HOUR]: 'day' };

interface Loaded {
  token: Token;
  roles: Role[];
  children: Token[];
  events: Decision[];
  routes: Set<string>;
}

export function TokenDetail({ id }: { id: string }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState('');
  const [message, setMessage] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [successor, setSuccessor] = useState<(Token & { token: string }) | null>(null);
  const load = async () => {
    try {
      const token = await api<Token>('GET', `/v1/tokens/${id}`);
      const [roles, children, events, routes] = await Promise.all([
        Promise.all(token.roles.map((r) => api<Role>('GET', `/v1/roles/${encodeURIComponent(r)}`).catch(() => ({ name: r, description: '(not readable)', permissions: [] })))),
        api<{ items: Token[] }>('GET', `/v1/tokens?parent=${id}&limit=100`),
        api<{ items: Decision[] }>('GET', `/v1/audit/events?kind=decision&token=${id}&limit=1000`),
        servedRoutes(),
      ]);
      setLoaded({ token, roles, children: children.items, events: events.items.reverse(), routes });
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => { void load(); }, [id]);
  if (successor !== null) return <Reveal created={successor} />;
  if (error !== '') return <p role="alert" class="error">{error}</p>;
  if (loaded === null) return <p aria-busy="true">Loading…</p>;
  const { token, roles, children, events, routes } = loaded;

  const act = async (verb: string, body?: unknown) => {
    setMessage('');
    try {
      const answer = await api('POST', `/v1/tokens/${id}/${verb}`, body);
      setConfirming(false);
      // A rotation's successor is shown once, like any new token.
      if (typeof answer?.token === 'string' && typeof answer?.id === 'string') return setSuccessor(answer);
      setMessage(`${verb}: done${Array.isArray(answer?.changed) ? ` (${answer.changed.length} token${answer.changed.length === 1 ? '' : 's'} changed)` : ''}.`);
      await load();
    } catch (err) {
      setMessage(describeError(err));
    }
  };
  const has = (verb: string) => routes.has(`POST /v1/tokens/{id}/${verb}`);

  // Use per permission, in hourly buckets over the last day.
  const now = Date.now();
  const buckets = 24;
  const start = now - buckets * HOUR;
  const byPermission = new Map<string, number[]>();
  for (const e of events) {
    if (e.time < start) continue;
    const key = e.detail.decision === 'allow' ? e.detail.matched ?? '(allowed)' : `refused: ${e.detail.reason}`;
    const values = byPermission.get(key) ?? new Array<number>(buckets).fill(0);
    values[Math.min(buckets - 1, Math.floor((e.time - start) / HOUR))]! += e.detail.count ?? 1;
    byPermission.set(key, values);
  }
  const lastUsed = events.find((e) => e.detail.decision === 'allow');

  return (
    <>
      <div class="title-row">
        <h1>Token {token.name}</h1>
        <span class={`status ${token.status}`} data-testid="token-status">{token.status}</span>
      </div>
      <p class="muted">{token.id} · <code>{token.hint}</code> · {token.env} · owner {token.owner} · created {utc(token.createdAt)} by {token.createdBy}</p>
      <section class="card actions" aria-labelledby="actions-h">
        <h2 id="actions-h">Actions</h2>
        <div class="row middle">
          {token.status !== 'revoked' && !confirming && <button type="button" class="danger" onClick={() => setConfirming(true)}>Revoke…</button>}
          {confirming && (
            <div role="group" aria-label="Confirm revocation" class="confirm">
              <p>Revoke {token.name}{children.length > 0 ? ` and its ${children.length} child token(s)` : ''}? Every gateway refuses it at once; this cannot be undone.</p>
              <button type="button" class="danger" onClick={() => act('revoke')}>Confirm revoke</button>
              <button type="button" class="secondary" onClick={() => setConfirming(false)}>Cancel</button>
            </div>
          )}
          {token.status === 'active' && <button type="button" class="secondary" onClick={() => act('disable')}>Disable</button>}
          {token.status === 'disabled' && <button type="button" class="secondary" onClick={() => act('enable')}>Enable</button>}
          {/* Extension points: shown once the server serves these routes (issue 13). */}
          {token.status === 'active' && has('rotate') && <button type="button" class="secondary" onClick={() => act('rotate', { grace: '1h' })}>Rotate (old one valid 1 h more)</button>}
          {token.status === 'active' && has('narrow') && <NarrowForm token={token} onApply={(body) => act('narrow', body)} />}
        </div>
        <p role="status" class="help">{message}</p>
      </section>
      <div class="grid two">
        <section class="card" aria-labelledby="grants-h">
          <h2 id="grants-h">What it can do</h2>
          <ul>
            {token.permissions.map((p) => <li key={p}><code>{p}</code> — {permissionWords(p)}</li>)}
            {roles.map((r) => (
              <li key={r.name}>role <strong>{r.name}</strong>
                <ul>{r.permissions.map((p) => <li key={p}><code>{p}</code> — {permissionWords(p)}</li>)}</ul></li>
            ))}
          </ul>
          <h3>Constraints</h3>
          <dl class="pairs">
            <dt>Expires</dt><dd>{utc(token.expiresAt)}</dd>
            {token.notBefore !== null && <><dt>Not before</dt><dd>{utc(token.notBefore)}</dd></>}
            <dt>Client addresses</dt><dd>{token.cidrs.length === 0 ? 'any' : token.cidrs.join(', ')}</dd>
            <dt>Rate limit</dt><dd>{token.rate === null ? 'none' : `${token.rate.count}/${PERIODS[token.rate.periodMs] ?? `${token.rate.periodMs / 1000}s`}`}</dd>
            <dt>Maximum uses</dt><dd>{token.maxUses ?? 'unlimited'}</dd>
            <dt>Parent</dt><dd>{token.parentId === null ? 'none' : <a href={`#/tokens/${token.parentId}`}>{token.parentId}</a>}</dd>
          </dl>
          <h3>Child tokens</h3>
          {children.length === 0 ? <p>None.</p> : <ul>{children.map((c) => <li key={c.id}><a href={`#/tokens/${c.id}`}>{c.name}</a> <span class="muted">{c.status}</span></li>)}</ul>}
        </section>
        <section class="card" aria-labelledby="usage-h">
          <h2 id="usage-h">Usage</h2>
          <p data-testid="last-used">Last used: {lastUsed === undefined ? 'never' : `${ago(lastUsed.time, now)} (${utc(lastUsed.time)})`}</p>
          {byPermission.size === 0 ? <p>No requests in the last 24 hours.</p> : (
            <BarChart title={`Requests per permission per hour, last ${buckets} hours`} buckets={buckets} bucketLabel={(i) => utc(start + i * HOUR).split(', ')[1]!}
              series={[...byPermission].map(([label, values], i) => ({ label, values, className: label.startsWith('refused') ? 'deny' : CLASSES[i % CLASSES.length]! }))} />
          )}
        </section>
      </div>
      <section class="card" aria-labelledby="events-h">
        <h2 id="events-h">Its requests</h2>
        <EventTable events={events.slice(0, 100)} />
      </section>
    </>
  );
}

export function EventTable({ events }: { events: Decision[] }) {
  if (events.length === 0) return <p>No requests yet.</p>;
  return (
    <div class="scroll">
      <table data-testid="token-events">
        <thead><tr><th scope="col">Time</th><th scope="col">Request</th><th scope="col">Decision</th><th scope="col">Permission / reason</th><th scope="col">Upstream</th><th scope="col">Client</th></tr></thead>
        <tbody>{events.map((e) => (
          <tr key={e.seq}>
            <td>{utc(e.time)}</td><td><code>{e.detail.action} /{e.detail.service}{e.detail.resource}</code></td>
            <td><span class={`decision ${e.detail.decision}`}>{e.detail.decision}</span></td>
            <td><code>{e.detail.decision === 'allow' ? e.detail.matched : e.detail.reason}</code></td>
            <td>{e.detail.upstreamStatus ?? '—'}</td><td>{e.detail.client}</td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}

/** Narrow with a what-if first: the server's answer to a dry run is shown before anything is applied. */
function NarrowForm({ token, onApply }: { token: Token; onApply: (body: unknown) => void }) {
  const [text, setText] = useState(token.permissions.join('\n'));
  const [preview, setPreview] = useState('');
  const body = { permissions: text.split('\n').map((l) => l.trim()).filter((l) => l !== '') };
  const whatIf = async () => {
    try {
      setPreview(JSON.stringify(await api('POST', `/v1/tokens/${token.id}/narrow`, { ...body, dryRun: true }), null, 2));
    } catch (err) {
      setPreview(describeError(err));
    }
  };
  return (
    <details>
      <summary>Narrow…</summary>
      <label for="narrow-perms">Permissions to keep (one a line)</label>
      <textarea id="narrow-perms" rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="button" class="secondary" onClick={whatIf}>What if?</button>
      {preview !== '' && <pre class="preview">{preview}</pre>}
      <button type="button" disabled={preview === ''} onClick={() => onApply(body)}>Apply narrowing</button>
    </details>
  );
}
