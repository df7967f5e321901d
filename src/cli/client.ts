import { request } from 'undici';

// The command line talks to the admin API like any other client; it holds no
// store of its own (except `init` and `serve`, which own the data directory).

export class CliError extends Error {
  override readonly name = 'CliError';
}

export interface ClientOptions {
  readonly url: string;
  readonly token: string | undefined;
}

export class AdminClient {
  readonly #url: string;
  readonly #token: string | undefined;

  constructor(options: ClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
  }

  /** A streamed GET (exports): the body as it arrives, after a status check. */
  async stream(path: string): Promise<AsyncIterable<Buffer>> {
    if (this.#token === undefined || this.#token === '') throw new CliError('no admin token: set LATCHKEY_TOKEN or pass --token');
    let response;
    try {
      response = await request(`${this.#url}${path}`, { method: 'GET', headers: { authorization: `Bearer ${this.#token}` } });
    } catch (err) {
      throw new CliError(`cannot reach the admin API at ${this.#url}: ${(err as Error).message}`);
    }
    if (response.statusCode >= 400) {
      const text = await response.body.text();
      let error: { error?: string; message?: string } = {};
      try { error = JSON.parse(text) as typeof error; } catch { /* not JSON: the status says enough */ }
      throw new CliError(`${error.error ?? response.statusCode}: ${error.message ?? 'request failed'}`);
    }
    return response.body;
  }

  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    if (this.#token === undefined || this.#token === '') {
      throw new CliError('no admin token: set LATCHKEY_TOKEN or pass --token');
    }
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
      throw new CliError(`cannot reach the admin API at ${this.#url}: ${(err as Error).message}`);
    }
    const text = await response.body.text();
    if (response.statusCode === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new CliError(`the admin API answered ${response.statusCode} with a body that is not JSON`);
    }
    if (response.statusCode >= 400) {
      const error = parsed as { error?: string; message?: string };
      throw new CliError(`${error.error ?? response.statusCode}: ${error.message ?? 'request failed'}`);
    }
    return parsed as T;
  }
}
