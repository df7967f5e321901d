import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, recentAudit, type AuditEvent } from '../api.js';
import { utc } from '../words.js';

// The audit trail, newest first, filtered on the server; "live tail" asks for
// what came after the newest event shown, every two seconds.

const TAIL_MS = 2_000;

interface Verification { ok: boolean; [key: string]: unknown }

export function Audit() {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [tail, setTail] = useState(false);
  const [error, setError] = useState('');
  const [verification, setVerification] = useState<Verification | string | null>(null);
  const [head, setHead] = useState<{ head: { seq: number; hash: string }; checkpoint: { seq: number; time: number } | null } | null>(null);
  useEffect(() => { api('GET', '/v1/audit/head').then(setHead, (err) => setError(describeError(err))); }, []);
  const newest = useRef(0);
  const clean = (f: Record<string, string>) => Object.fromEntries(Object.entries(f).filter(([, v]) => v.trim() !== ''));

  useEffect(() => {
    recentAudit(200, clean(filter)).then((items) => { newest.current = items[0]?.seq ?? 0; setEvents(items); setError(''); }, (err) => setError(describeError(err)));
  }, [filter]);
  useEffect(() => {
    if (!tail) return undefined;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const page = await api<{ items: AuditEvent[] }>('GET', `/v1/audit/events?${new URLSearchParams({ ...clean(filter), after: String(newest.current), limit: '200' })}`);
        if (page.items.length > 0) {
          newest.current = page.items.at(-1)!.seq;
          setEvents((current) => [...page.items.reverse(), ...(current ?? [])].slice(0, 500));
        }
      } catch (err) {
        setError(describeError(err));
      } finally {
        busy = false;
      }
    }, TAIL_MS);
    return () => clearInterval(timer);
  }, [tail, filter]);
  const verify = async () => {
    setVerification('Verifying…');
    try {
      setVerification(await api<Verification>('POST', '/v1/audit/verify', {}));
    } catch (err) {
      setVerification(describeError(err));
    }
  };

  const field = (name: string, label: string, options?: string[]) => (
    <div>
      <label for={`audit-${name}`}>{label}</label>
      {options === undefined
        ? <input id={`audit-${name}`} value={filter[name] ?? ''} onChange={(e) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value })} />
        : <select id={`audit-${name}`} value={filter[name] ?? ''} onChange={(e) => setFilter({ ...filter, [name]: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>{options.map((o) => <option key={o} value={o}>{o}</option>)}
          </select>}
    </div>
  );
  return (
    <>
      <h1>Audit</h1>
      <section class="card" aria-labelledby="chain-h">
        <h2 id="chain-h">Chain</h2>
        {head !== null && (
          <p data-testid="chain-head">
            Head: event {head.head.seq}, hash <code>{head.head.hash.slice(0, 16)}…</code>.{' '}
            {head.checkpoint === null ? 'No signed checkpoint yet.' : `Last signed checkpoint at event ${head.checkpoint.seq}, ${utc(head.checkpoint.time)}.`}
          </p>
        )}
        <button type="button" class="secondary" onClick={verify}>Verify the chain</button>
        <p role="status" data-testid="verification">
          {verification === null ? 'Not verified in this session.' : typeof verification === 'string' ? verification
            : verification.ok ? `Verified: the hash chain and its checkpoints are intact (${String(verification.events ?? verification.checked ?? '')} events).` : `Broken: ${JSON.stringify(verification)}`}
        </p>
      </section>
      <form class="card filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter audit events">
        <div class="row">
          {field('kind', 'Kind', ['decision', 'admin'])}
          {field('decision', 'Decision', ['allow', 'deny'])}
          {field('service', 'Service')}
          {field('token', 'Token id')}
          {field('reason', 'Reason')}
        </div>
        <label class="check"><input type="checkbox" checked={tail} onChange={(e) => setTail((e.target as HTMLInputElement).checked)} /> Live tail</label>
      </form>
      {error !== '' && <p role="alert" class="error">{error}</p>}
      {events === null ? <p aria-busy="true">Loading…</p> : events.length === 0 ? <p>No events.</p> : (
        <div class="scroll">
          <table data-testid="audit-table">
            <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Outcome</th></tr></thead>
            <tbody>{events.map((e) => e.kind === 'decision' ? (
              <tr key={e.seq}>
                <td>{e.seq}</td><td>{utc(e.time)}</td>
                <td>{e.detail.tokenId === null ? '—' : <a href={`#/tokens/${e.detail.tokenId}`}>{e.detail.tokenName ?? e.detail.tokenId}</a>}</td>
                <td><code>{e.detail.action} /{e.detail.service}{e.detail.resource}</code></td>
                <td><span class={`decision ${e.detail.decision}`}>{e.detail.decision}</span> <code>{e.detail.decision === 'allow' ? e.detail.matched : e.detail.reason}</code>{(e.detail.count ?? 1) > 1 && ` ×${e.detail.count}`}</td>
              </tr>
            ) : (
              <tr key={e.seq}>
                <td>{e.seq}</td><td>{utc(e.time)}</td><td>{e.detail.actor}</td>
                <td><code>{e.detail.action}</code> {e.detail.target}</td><td>—</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
