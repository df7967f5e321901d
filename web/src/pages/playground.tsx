import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';

// "Would this be allowed, and why?" as you type, through POST /v1/check: the
// gateway's own decision code. HTTP checks are served today; the SQL and MCP
// forms send {sql, service} and {mcp, service}, and show the server's answer
// (its 400 message where this server does not check them yet).

type Kind = 'http' | 'sql' | 'mcp';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const DEBOUNCE_MS = 300;

interface Answer { allowed: boolean; reason: string; matched: string | null; nearest: string | null; explanation: string; serverMicros?: number }

export function Playground() {
  const [who, setWho] = useState<'grant' | 'token'>('grant');
  const [token, setToken] = useState('');
  const [grant, setGrant] = useState('');
  const [kind, setKind] = useState<Kind>('http');
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('');
  const [sql, setSql] = useState('');
  const [mcp, setMcp] = useState('');
  const [service, setService] = useState('');
  const [answer, setAnswer] = useState<Answer | string | null>(null);

  const subject = who === 'token' ? (token.trim() === '' ? null : { token: token.trim() })
    : (grant.trim() === '' ? null : { grant: grant.split('\n').map((l) => l.trim()).filter((l) => l !== '') });
  const request = kind === 'http' ? (path.trim() === '' ? null : { method, path: path.trim() })
    // Extension points: the SQL and MCP checks (their own issues) take these bodies.
    : kind === 'sql' ? (sql.trim() === '' || service === '' ? null : { sql, service })
    : (mcp.trim() === '' || service === '' ? null : { mcp, service });
  const question = subject === null || request === null ? null : JSON.stringify({ ...subject, ...request });

  useEffect(() => {
    if (question === null) { setAnswer(null); return undefined; }
    const timer = setTimeout(() => {
      api<Answer>('POST', '/v1/check', JSON.parse(question)).then(setAnswer, (err) => setAnswer(describeError(err)));
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [question]);

  return (
    <>
      <h1>Playground</h1>
      <div class="grid two">
        <form class="card" onSubmit={(e) => e.preventDefault()} aria-label="The question">
          <fieldset class="inline">
            <legend>Who asks</legend>
            <label class="check"><input type="radio" name="who" checked={who === 'grant'} onChange={() => setWho('grant')} /> A grant</label>
            <label class="check"><input type="radio" name="who" checked={who === 'token'} onChange={() => setWho('token')} /> A token</label>
          </fieldset>
          {who === 'grant' ? (
            <><label for="pg-grant">Permissions (one a line)</label>
              <textarea id="pg-grant" rows={4} spellcheck={false} value={grant} placeholder="orders:GET:/v1/orders/*" onInput={(e) => setGrant((e.target as HTMLTextAreaElement).value)} /></>
          ) : (
            <><label for="pg-token">Token</label>
              <input id="pg-token" type="password" autocomplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
              <p class="help">Checking a token is recorded in the audit trail (token.check).</p></>
          )}
          <fieldset class="inline">
            <legend>Request</legend>
            {(['http', 'sql', 'mcp'] as Kind[]).map((k) => (
              <label key={k} class="check"><input type="radio" name="kind" checked={kind === k} onChange={() => setKind(k)} /> {k === 'http' ? 'HTTP' : k === 'sql' ? 'SQL' : 'MCP'}</label>
            ))}
          </fieldset>
          {kind === 'http' ? (
            <div class="row">
              <div><label for="pg-method">Method</label>
                <select id="pg-method" value={method} onChange={(e) => setMethod((e.target as HTMLSelectElement).value)}>{METHODS.map((m) => <option key={m}>{m}</option>)}</select></div>
              <div class="grow"><label for="pg-path">Path, as sent to the gateway</label>
                <input id="pg-path" value={path} placeholder="/orders/v1/orders/7" spellcheck={false} onInput={(e) => setPath((e.target as HTMLInputElement).value)} /></div>
            </div>
          ) : (
            <>
              <label for="pg-service">Service</label>
              <input id="pg-service" value={service} onInput={(e) => setService((e.target as HTMLInputElement).value)} />
              {kind === 'sql'
                ? <><label for="pg-sql">SQL statement</label><textarea id="pg-sql" rows={3} value={sql} onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)} /></>
                : <><label for="pg-mcp">MCP call</label><input id="pg-mcp" value={mcp} placeholder={'tools/call create_issue {"repo":"acme/web"}'} onInput={(e) => setMcp((e.target as HTMLInputElement).value)} /></>}
            </>
          )}
        </form>
        <section class="card" aria-labelledby="answer-h" aria-live="polite">
          <h2 id="answer-h">Answer</h2>
          {answer === null ? <p>Fill in who asks and the request.</p> : typeof answer === 'string' ? <p role="alert" class="error">{answer}</p> : (
            <div data-testid="check-answer">
              <p class={`verdict ${answer.allowed ? 'allow' : 'deny'}`}>{answer.allowed ? 'Allowed' : 'Refused'} <code>{answer.reason}</code></p>
              <p>{answer.explanation}</p>
              {answer.matched !== null && <p>Matched: <code>{answer.matched}</code></p>}
              {answer.nearest !== null && <p>Nearest: <code>{answer.nearest}</code></p>}
            </div>
          )}
        </section>
      </div>
    </>
  );
}
