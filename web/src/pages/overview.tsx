import { useEffect, useState } from 'preact/hooks';
import { api, describeError, recentAudit, servedRoutes, type AuditEvent, type Token } from '../api.js';
import { ago, utc } from '../words.js';

// What needs an operator's attention, from the token list and the newest part
// of the audit trail (the last 1,000 events).

const DAY = 86_400_000;
const broad = (p: string) => !p.startsWith('!') && (/:\*(:|$)/.test(p) || p.endsWith('/**') || p.split(':').length === 2);

/** One row of GET /v1/reports/overprivileged: granted permissions never exercised in the window. */
interface Overprivileged {
  id: string;
  name: string;
  env: string;
  unused: string[];
  suggested: string[];
}

interface Summary {
  tokens: Token[];
  events: AuditEvent[];
  /** The server's report when it has one (and this token may read it); null: the wildcard view instead. */
  overprivileged: Overprivileged[] | null;
}

export function Overview() {
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    Promise.all([api<{ items: Token[] }>('GET', '/v1/tokens?status=active&limit=500'), recentAudit(1000), servedRoutes()])
      .then(async ([tokens, events, routes]) => {
        const report = routes.has('GET /v1/reports/overprivileged')
          ? await api<{ items: Overprivileged[] }>('GET', '/v1/reports/overprivileged?days=30').then((r) => r.items, () => null)
          : null;
        setSummary({ tokens: tokens.items, events, overprivileged: report });
      }, (err) => setError(describeError(err)));
  }, []);
  if (error !== '') return <p role="alert" class="error">{error}</p>;
  if (summary === null) return <p aria-busy="true">Loading…</p>;

  const now = Date.now();
  const live = summary.tokens.filter((t) => !t.honey && Date.parse(t.expiresAt) > now);
  const perEnv = new Map<string, number>();
  for (const t of live) perEnv.set(t.env, (perEnv.get(t.env) ?? 0) + 1);
  const expiring = live.filter((t) => Date.parse(t.expiresAt) - now < DAY).sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  const decisions = summary.events.filter((e): e is Extract<AuditEvent, { kind: 'decision' }> => e.kind === 'decision');
  const used = new Set(decisions.map((e) => e.detail.tokenId));
  // Admin tokens work on the admin API, whose calls are not gateway decisions: only gateway tokens can be unused here.
  const unused = live.filter((t) => !used.has(t.id) && !t.permissions.every((p) => p.startsWith('latchkey:') || p.startsWith('!latchkey:')));
  const wide = live.filter((t) => t.permissions.some(broad));
  const refusals = decisions.filter((e) => e.detail.decision === 'deny');
  const byReason = new Map<string, number>();
  for (const e of refusals) byReason.set(e.detail.reason, (byReason.get(e.detail.reason) ?? 0) + (e.detail.count ?? 1));
  const alarms = summary.events.filter((e) => e.kind === 'admin' && (e.detail.action === 'honeytoken.presented' || e.detail.action === 'leak.reported'));

  return (
    <>
      <h1>Overview</h1>
      <div class="grid">
        <section class="card" aria-labelledby="env-h">
          <h2 id="env-h">Live tokens per environment</h2>
          {perEnv.size === 0 ? <p>No live tokens.</p> : (
            <dl class="stats">{[...perEnv].map(([env, n]) => <div key={env}><dt>{env}</dt><dd>{n}</dd></div>)}</dl>
          )}
        </section>
        <section class="card" aria-labelledby="refusals-h">
          <h2 id="refusals-h">Recent refusals by reason</h2>
          {byReason.size === 0 ? <p>No refusals in the last {summary.events.length} events.</p> : (
            <ul class="bars">
              {[...byReason].sort((a, b) => b[1] - a[1]).map(([reason, n]) => <li key={reason}><code>{reason}</code> <strong>{n}</strong></li>)}
            </ul>
          )}
          {refusals.length > 0 && (
            <table class="compact">
              <caption>Latest refusals</caption>
              <thead><tr><th scope="col">When</th><th scope="col">Token</th><th scope="col">Request</th><th scope="col">Reason</th></tr></thead>
              <tbody>
                {refusals.slice(0, 5).map((e) => (
                  <tr key={e.seq}>
                    <td>{ago(e.time, now)}</td>
                    <td>{e.detail.tokenId === null ? '—' : <a href={`#/tokens/${e.detail.tokenId}`}>{e.detail.tokenName ?? e.detail.tokenId}</a>}</td>
                    <td><code>{e.detail.action} /{e.detail.service}{e.detail.resource}</code></td>
                    <td><code>{e.detail.reason}</code></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section class="card" aria-labelledby="expiring-h">
          <h2 id="expiring-h">Expiring within a day</h2>
          <TokenList tokens={expiring} empty="None." note={(t) => `expires ${utc(t.expiresAt)}`} />
        </section>
        <section class="card" aria-labelledby="unused-h">
          <h2 id="unused-h">Unused</h2>
          <p class="help">Live gateway tokens with no request in the last {summary.events.length} audit events.</p>
          <TokenList tokens={unused} empty="Every live token was used recently." note={(t) => `created ${ago(t.createdAt, now)}`} />
        </section>
        <section class="card" aria-labelledby="wide-h">
          <h2 id="wide-h">Over-privileged</h2>
          {summary.overprivileged !== null ? (
            <>
              <p class="help">Granted permissions not used in the last 30 days, from what the gateways saw; narrow them on the token's page.</p>
              {summary.overprivileged.length === 0 ? <p>Every live token used all it was granted.</p> : (
                <ul>
                  {summary.overprivileged.slice(0, 10).map((t) => (
                    <li key={t.id}><a href={`#/tokens/${t.id}`}>{t.name}</a> <span class="muted">{t.env} · {t.unused.length} unused: {t.unused.slice(0, 3).join(', ')}{t.unused.length > 3 ? ', …' : ''}</span></li>
                  ))}
                  {summary.overprivileged.length > 10 && <li class="muted">and {summary.overprivileged.length - 10} more</li>}
                </ul>
              )}
            </>
          ) : (
            <>
              <p class="help">Tokens with wildcard grants (any action, any path below /**, or a whole service): narrow them.</p>
              <TokenList tokens={wide} empty="No wildcard grants." note={(t) => t.permissions.filter(broad).join(', ')} />
            </>
          )}
        </section>
        <section class="card" aria-labelledby="alarms-h">
          <h2 id="alarms-h">Honeytoken hits and leak reports</h2>
          {alarms.length === 0 ? <p>None.</p> : (
            <ul>{alarms.map((e) => e.kind === 'admin' && <li key={e.seq}><code>{e.detail.action}</code> {e.detail.target} · {ago(e.time, now)}</li>)}</ul>
          )}
        </section>
      </div>
    </>
  );
}

function TokenList({ tokens, empty, note }: { tokens: Token[]; empty: string; note: (t: Token) => string }) {
  if (tokens.length === 0) return <p>{empty}</p>;
  return (
    <ul>
      {tokens.slice(0, 10).map((t) => <li key={t.id}><a href={`#/tokens/${t.id}`}>{t.name}</a> <span class="muted">{t.env} · {note(t)}</span></li>)}
      {tokens.length > 10 && <li class="muted">and {tokens.length - 10} more</li>}
    </ul>
  );
}
