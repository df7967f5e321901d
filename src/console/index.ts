// The web console: a single-page app served at `/` on the admin listener,
// signed in with an admin token into a cookie session, calling the same /v1
// admin API as the command line (see sessions.ts for the session and CSRF rules).
export { registerConsole, consolePrincipal, type ConsoleOptions } from './console.js';
export { ConsoleSessions, SESSION_COOKIE, CSRF_HEADER } from './sessions.js';
