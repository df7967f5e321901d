import { useState } from 'preact/hooks';
import { api, describeError } from '../api.js';

export function SignIn({ onSignedIn }: { onSignedIn: (answer: any) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const answer = await api('POST', '/console/session', { token: token.trim() });
      setToken('');
      onSignedIn(answer);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="page narrow" id="main">
      <h1>Sign in to Latchkey</h1>
      <form onSubmit={submit} class="card">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="off" spellcheck={false} required value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} aria-describedby="admin-token-help" />
        <p id="admin-token-help" class="help">
          The token <code>latchkey init</code> printed, or any token with <code>latchkey:</code> permissions. It is sent once to open
          a session; the browser keeps only an HttpOnly session cookie, which ends when you sign out, after 8 hours, or when the token stops being valid.
        </p>
        {error !== '' && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
