import { useEffect, useState } from 'preact/hooks';
import { api, describeError, type Token } from '../api.js';
import { utc } from '../words.js';

export function Tokens() {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [status, setStatus] = useState('active');
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ items: Token[] }>('GET', `/v1/tokens?limit=500${status === '' ? '' : `&status=${status}`}`)
      .then((page) => setTokens(page.items), (err) => setError(describeError(err)));
  }, [status]);
  return (
    <>
      <div class="title-row">
        <h1>Tokens</h1>
        <a class="button" href="#/tokens/new">Create token</a>
      </div>
      <label for="token-status">Status</label>
      <select id="token-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
        <option value="active">active</option><option value="disabled">disabled</option><option value="revoked">revoked</option><option value="">all</option>
      </select>
      {error !== '' && <p role="alert" class="error">{error}</p>}
      {tokens === null ? <p aria-busy="true">Loading…</p> : tokens.length === 0 ? <p>No tokens.</p> : (
        <div class="scroll">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Env</th><th scope="col">Status</th><th scope="col">Grants</th><th scope="col">Expires</th><th scope="col">Hint</th></tr></thead>
            <tbody>{tokens.map((t) => (
              <tr key={t.id}>
                <td><a href={`#/tokens/${t.id}`}>{t.name}</a>{t.honey && <span class="badge">honey</span>}{t.parentId !== null && <span class="badge">child</span>}</td>
                <td>{t.env}</td><td><span class={`status ${t.status}`}>{t.status}</span></td>
                <td>{[...t.roles.map((r) => `role ${r}`), ...t.permissions].join(', ')}</td>
                <td>{utc(t.expiresAt)}</td><td><code>{t.hint}</code></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
