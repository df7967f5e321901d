import { request, type Dispatcher } from 'undici';
import { ADMIN_API_HEADER } from '../admin/api-header.js';

// The command line talks to the admin API like any other client; it holds no
// store of its own (except `init` and `serve`, which own the data directory).
// Every failure says what to do next: the command a new user would not guess.

export class CliError extends Error {
  override readonly name = 'CliError';
  /** The admin API's reason code when it refused; `cli` for the command line's own refusals. */
  readonly code: string;

  constructor(message: string, code = 'cli') {
    super(message);
    this.code = code;
  }
}

export interface ClientOptions {
  readonly url: string;
  readonly token: string | undefined;
  /** Where the admin token came from, for the error that says it was refused. */
  readonly tokenSource?: string;
}

const NO_TOKEN = 'no admin token: set LATCHKEY_TOKEN (or pass --token); `latchkey init` prints the first admin token, ' +
  '`latchkey init --new-admin-token` mints another';

/** Admin-token refusals: the message says which token was refused and how to get a good one. */
const ADMIN_TOKEN_CODES = new Set(['token_malformed', 'token_unknown', 'token_expired', 'token_not_yet_valid', 'token_revoked', 'token_disabled']);

export class AdminClient {
  readonly #url: string;
  readonly #token: string | undefined;

  readonly #tokenSource: string;

  get url(): string {
    return this.#url;
  }

  /** Where the admin token came from: LATCHKEY_TOKEN, --token or --admin-token. */
  get tokenSource(): string {
    return this.#tokenSource;
  }

  /** An unauthenticated health route (/healthz, /readyz): ready or why not. */
  async probe(path: string): Promise<{ ok: true } | { ok: false; problem: string }> {
    let response;
    try {
      response = await request(`${this.#url}${path}`, { method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
    } catch (err) {
      throw this.#unreachable(err);
    }
    const text = await response.body.text();
    if (response.headers[ADMIN_API_HEADER] !== 'admin') throw this.#notAdminApi(response.statusCode);
    if (response.statusCode === 200) return { ok: true };
    let problem = `status ${response.statusCode}`;
    try { problem = (JSON.parse(text) as { error?: string }).error ?? problem; } catch { /* the status says enough */ }
    return { ok: false, problem };
  }

  constructor(options: ClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#tokenSource = options.tokenSource ?? 'LATCHKEY_TOKEN';
  }

  #unreachable(err: unknown): CliError {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') {
      return new CliError(`nothing is listening at ${this.#url}: start Latchkey with \`latchkey serve\` (\`npm start\` in the clone), ` +
        'or point LATCHKEY_URL / --url at its admin API (default http://127.0.0.1:7700)', 'unreachable');
    }
    return new CliError(`cannot reach the admin API at ${this.#url}: ${(err as Error).message} (check LATCHKEY_URL / --url)`, 'unreachable');
  }

  /** A refusal in words with the next step; an answer from something that is not the admin API says so. */
  #refusal(response: Dispatcher.ResponseData, parsed: unknown): CliError {
    if (response.headers[ADMIN_API_HEADER] !== 'admin') return this.#notAdminApi(response.statusCode);
    const error = (parsed ?? {}) as { error?: string; message?: string };
    const code = error.error ?? String(response.statusCode);
    const message = `${code}: ${error.message ?? 'request failed'}`;
    if (response.statusCode === 401 && ADMIN_TOKEN_CODES.has(code)) {
      return new CliError(`${message} — the admin token from ${this.#tokenSource} was refused; ` +
        'set a valid one (`latchkey init --new-admin-token` on the server mints one)', code);
    }
    if (response.statusCode === 403 && code === 'permission_denied') {
      return new CliError(`${message} — the admin token from ${this.#tokenSource} lacks this permission; use a token that has it`, code);
    }
    return new CliError(message, code);
  }

  #notAdminApi(status: number): CliError {
    return new CliError(`${this.#url} answered ${status} but is not Latchkey's admin API (a gateway listener?): ` +
      'point LATCHKEY_URL / --url at the admin API (default http://127.0.0.1:7700; `latchkey serve` prints it)', 'not_admin_api');
  }

  /** A streamed GET (exports): the body as it arrives, after a status check. */
  async stream(path: string): Promise<AsyncIterable<Buffer>> {
    if (this.#token === undefined || this.#token === '') throw new CliError(NO_TOKEN, 'no_admin_token');
    let response;
    try {
      response = await request(`${this.#url}${path}`, { method: 'GET', headers: { authorization: `Bearer ${this.#token}` } });
    } catch (err) {
      throw this.#unreachable(err);
    }
    if (response.statusCode >= 400 || response.headers[ADMIN_API_HEADER] !== 'admin') {
      const text = await response.body.text();
      let error: unknown;
      try { error = JSON.parse(text); } catch { /* not JSON: the status says enough */ }
      throw this.#refusal(response, error);
    }
    return response.body;
  }

  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    if (this.#token === undefined || this.#token === '') throw new CliError(NO_TOKEN, 'no_admin_token');
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await request(`${this.#url}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      throw this.#unreachable(err);
    }
    const text = await response.body.text();
    if (response.headers[ADMIN_API_HEADER] !== 'admin') throw this.#notAdminApi(response.statusCode);
    if (response.statusCode === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new CliError(`the admin API answered ${response.statusCode} with a body that is not JSON`, 'internal_error');
    }
    if (response.statusCode >= 400) throw this.#refusal(response, parsed);
    return parsed as T;
  }
}
