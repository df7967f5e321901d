import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, describeError, setCsrf } from './api.js';
import { SignIn } from './pages/sign-in.js';
import { Overview } from './pages/overview.js';
import { Catalog } from './pages/catalog.js';
import { Tokens } from './pages/tokens.js';
import { CreateToken } from './pages/create-token.js';
import { TokenDetail } from './pages/token-detail.js';
import { Audit } from './pages/audit.js';
import { Playground } from './pages/playground.js';
import { Live } from './pages/live.js';
import './style.css';

interface Session { actor: { name: string }; env: string; expiresAt: string }

const NAV: Array<[string, string]> = [
  ['#/', 'Overview'], ['#/catalog', 'Services & roles'], ['#/tokens', 'Tokens'], ['#/tokens/new', 'Create token'],
  ['#/audit', 'Audit'], ['#/playground', 'Playground'], ['#/live', 'Live'],
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const detail = /^#\/tokens\/(tok_[A-Za-z0-9_-]+)$/.exec(hash);
  if (detail !== null) return <TokenDetail id={detail[1]!} />;
  switch (hash.split('?')[0]) {
    case '#/catalog': return <Catalog />;
    case '#/tokens': return <Tokens />;
    case '#/tokens/new': return <CreateToken />;
    case '#/audit': return <Audit />;
    case '#/playground': return <Playground />;
    case '#/live': return <Live />;
    default: return <Overview />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState('');
  const hash = useHash();
  useEffect(() => {
    api('GET', '/console/session').then((answer) => {
      if (answer.signedIn === true) {
        setCsrf(answer.csrf);
        setSession(answer);
      } else setSession(null);
    }, (err) => setError(describeError(err)));
  }, []);
  useEffect(() => {
    const title = NAV.find(([href]) => href === hash)?.[1];
    document.title = `${title ?? 'Latchkey'} · Latchkey console`;
    // A new page: keyboard and screen-reader users start at its content, not at the link they left.
    document.getElementById('main')?.focus({ preventScroll: false });
  }, [hash]);

  if (error !== '') return <main class="page"><p role="alert" class="error">{error}</p></main>;
  if (session === undefined) return <main class="page"><p aria-busy="true">Loading…</p></main>;
  if (session === null) return <SignIn onSignedIn={(answer) => { setCsrf(answer.csrf); setSession(answer); }} />;

  const signOut = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    setCsrf(null);
    setSession(null);
  };
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Latchkey</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}><a href={href} aria-current={hash === href ? 'page' : undefined}>{label}</a></li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={`session ends ${session.expiresAt}`}>{session.actor.name} · {session.env}</span>
          <button type="button" class="secondary" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        <Page hash={hash} key={hash} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
