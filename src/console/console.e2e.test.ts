// The web console as an operator uses it: a real `latchkey serve` (the built
// bin, SQLite), a real upstream on loopback, Debian's Chromium driven by
// playwright-core (never a downloaded browser). One browser for the file.
// Every page is screenshotted into .artifacts/console/; any browser console
// error, page error, failed request or 4xx/5xx answer fails the test.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, initDataDir, readAllAuditEvents, startServeProcess, type AdminCall, type ServeProcess } from '../test-support/serve-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('.artifacts/console');
const WAIT = { timeout: 30_000 };
const SECRET = 'the-real-upstream-secret';

async function gatewayGet(gatewayUrl: string, token: string, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${gatewayUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** What the page did wrong: console errors, uncaught exceptions, failed requests, error answers. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (request) => {
    // The live feed's EventSource is aborted by design when the operator leaves the Live page.
    if (request.url().endsWith('/console/live') && request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  return problems;
}

describe('web console end to end in headless Chromium', { timeout: 240_000 }, () => {
  let dataDir: string;
  let serve: ServeProcess;
  let admin: AdminCall;
  let adminToken: string;
  let upstream: Server;
  const upstreamSeen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(resolve('dist/web/index.html'))) throw new Error('the console is not built: run `npm run build` first');
    mkdirSync(ARTIFACTS, { recursive: true });
    upstream = createServer((req, res) => {
      upstreamSeen.push({ url: req.url!, headers: req.headers });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ order: req.url }));
    });
    await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-console-'));
    adminToken = initDataDir(dataDir);
    serve = await startServeProcess({ dataDir, env: { DEV_ORDERS_API_KEY: SECRET } });
    admin = adminClient(serve.adminUrl, adminToken);
    const created = await admin('POST', '/v1/services', {
      name: 'orders', kind: 'http',
      bindings: [{ env: 'dev', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, credential: { from: 'env', variable: 'DEV_ORDERS_API_KEY' } }],
    });
    expect(created.status, created.text).toBe(201);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 60_000,
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    upstream?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport, baseURL: serve.adminUrl });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.adminUrl });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT.timeout);
    return { context, page, problems: watch(page) };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Follows a navigation link and waits for its page's heading, so nothing is typed into the page being left. */
  async function goTo(page: Page, link: string, heading: string): Promise<void> {
    await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, level: 1, exact: true }).waitFor();
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto('/');
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  }

  async function decisionsOf(tokenId: string) {
    return readAllAuditEvents<{ seq: number; detail: { decision: string; reason: string; resource: string } }>(admin, `&kind=decision&token=${tokenId}`);
  }

  it('signs in, creates a role and a token with the picker, copies it, follows its use, revokes it and sees the refusal', async () => {
    const { context, page, problems } = await newPage();

    // Sign in.
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in to Latchkey' }).waitFor();
    await shot(page, '01-sign-in');
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // The session is an opaque HttpOnly SameSite=Strict cookie; nothing readable by scripts holds a secret.
    const cookies = await context.cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }))).toEqual([{ name: 'latchkey_session', httpOnly: true, sameSite: 'Strict' }]);
    expect(cookies[0]!.value).not.toContain(adminToken);
    expect(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]')).toEqual(['', 0, 0]);
    await shot(page, '02-overview');

    // Create a role with the picker.
    await goTo(page, 'Services & roles', 'Services & roles');
    await page.getByRole('cell', { name: 'orders', exact: true }).waitFor();
    await page.getByLabel('Role name').fill('orders-reader');
    await page.getByLabel('Service', { exact: true }).selectOption('orders');
    await page.getByLabel('GET', { exact: true }).check();
    await page.getByLabel('Path pattern').fill('/v1/orders/*');
    await page.getByRole('button', { name: 'Add permission' }).click();
    await expect.poll(() => page.getByRole('list', { name: 'Chosen permissions' }).innerText(), WAIT).toContain('orders:GET:/v1/orders/*');
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByText('Role orders-reader created.').waitFor();
    await page.getByRole('button', { name: 'Edit role orders-reader' }).waitFor();
    await shot(page, '03-services-and-roles');
    expect((await admin('GET', '/v1/roles/orders-reader')).body.permissions).toEqual(['orders:GET:/v1/orders/*']);

    // Create a token: the role, a direct permission from the picker, constraints; the grant in plain words.
    await goTo(page, 'Create token', 'Create a token');
    await page.getByLabel('Name').fill('ci-job');
    await page.getByLabel('Environment').selectOption('dev');
    expect(await page.getByLabel('Expires in').inputValue()).toBe('1d');
    await page.getByLabel('orders-reader').check();
    await page.getByLabel('Service', { exact: true }).selectOption('orders');
    await page.getByLabel('POST', { exact: true }).check();
    await page.getByLabel('Path pattern').fill('/v1/orders');
    await page.getByRole('button', { name: 'Add permission' }).click();
    await page.getByLabel('Rate limit (optional)').fill('100/min');
    const words = page.getByTestId('grant-words');
    await expect.poll(() => words.innerText(), WAIT).toMatch(/^ci-job can POST \/v1\/orders on orders, GET \/v1\/orders\/\* on orders \(role orders-reader\) in dev until \d+ \w{3} \d{4}, \d\d:\d\d UTC, at most 100\/min\.$/);
    await shot(page, '04-create-token');
    if (process.env.LATCHKEY_UPDATE_DOCS === '1') copyFileSync(join(ARTIFACTS, '04-create-token.png'), resolve('docs/console-create-token.png'));
    await page.getByRole('button', { name: 'Create token' }).click();

    // Revealed once, with a warning and a copy button.
    await page.getByRole('heading', { name: 'Copy the token now' }).waitFor();
    await page.getByText('It will not be shown again.').waitFor();
    const shown = await page.getByLabel('Token', { exact: true }).inputValue();
    expect(shown).toMatch(/^lk_dev_[0-9A-Za-z]{38}$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const token = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(token).toBe(shown);
    await shot(page, '05-token-revealed');

    // Use it through the gateway: allowed with the upstream's real credential; a write it lacks is refused.
    const allowed = await gatewayGet(serve.gatewayUrl, token, '/orders/v1/orders/7');
    expect(allowed).toEqual({ status: 200, body: { order: '/v1/orders/7' } });
    expect(upstreamSeen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
    const tokenId = (await admin('GET', '/v1/tokens?name=ci-job')).body.items[0].id as string;
    await expect.poll(async () => (await decisionsOf(tokenId)).length, WAIT).toBe(1);

    // The request in the token's usage.
    await page.getByRole('link', { name: 'I have stored it: show the token' }).click();
    await page.getByRole('heading', { name: 'Token ci-job' }).waitFor();
    // Disable and enable it again from its page.
    await page.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => page.getByTestId('token-status').innerText(), WAIT).toBe('disabled');
    await page.getByRole('button', { name: 'Enable' }).click();
    await expect.poll(() => page.getByTestId('token-status').innerText(), WAIT).toBe('active');
    const usage = page.getByTestId('token-events');
    await expect.poll(() => usage.innerText(), WAIT).toContain('GET /orders/v1/orders/7');
    expect(await usage.innerText()).toContain('orders:GET:/v1/orders/*');
    expect(await page.getByTestId('last-used').innerText()).not.toContain('never');
    await page.getByRole('img', { name: /Requests per permission per hour/ }).waitFor();
    expect(await page.getByText('role orders-reader').count()).toBeGreaterThan(0);
    await shot(page, '06-token-detail');

    // The token list links to it.
    await goTo(page, 'Tokens', 'Tokens');
    await page.getByRole('link', { name: 'ci-job' }).waitFor();
    await shot(page, '06b-tokens');

    // The request in the audit view, and the chain verified.
    await goTo(page, 'Audit', 'Audit');
    const table = page.getByTestId('audit-table');
    await expect.poll(() => table.innerText(), WAIT).toContain('GET /orders/v1/orders/7');
    expect(await table.innerText()).toContain('ci-job');
    await expect.poll(() => page.getByTestId('chain-head').innerText(), WAIT).toMatch(/^Head: event \d+, hash [0-9a-f]{16}…/);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect.poll(() => page.getByTestId('verification').innerText(), WAIT).toMatch(/^Verified/);
    // Filtered to allowed requests to orders, with the live tail on: the next request appears by itself.
    await page.getByLabel('Decision').selectOption('allow');
    await page.getByLabel('Service').fill('orders');
    await page.getByLabel('Service').press('Tab');
    await expect.poll(() => table.innerText(), WAIT).toContain('GET /orders/v1/orders/7');
    await page.getByLabel('Live tail').check();
    expect((await gatewayGet(serve.gatewayUrl, token, '/orders/v1/orders/9')).status).toBe(200);
    await expect.poll(() => table.innerText(), WAIT).toContain('GET /orders/v1/orders/9');
    await shot(page, '07-audit');

    // Playground: the gateway's decision as you type, through /v1/check.
    await goTo(page, 'Playground', 'Playground');
    await page.getByLabel('Permissions (one a line)').fill('orders:GET:/v1/orders/*');
    await page.getByLabel('Path, as sent to the gateway').fill('/orders/v1/orders/7');
    await expect.poll(() => page.getByTestId('check-answer').innerText(), WAIT).toContain('Allowed');
    await page.getByLabel('Method').selectOption('DELETE');
    await expect.poll(() => page.getByTestId('check-answer').innerText(), WAIT).toContain('Refused');
    await shot(page, '08-playground');

    // Live: the server pushes the next decision as it is recorded.
    await goTo(page, 'Live', 'Live');
    await expect.poll(() => page.getByTestId('live-state').innerText(), WAIT).toBe('live');
    expect((await gatewayGet(serve.gatewayUrl, token, '/orders/v1/orders/8')).status).toBe(200);
    await page.getByRole('heading', { name: 'orders', level: 2 }).waitFor();
    await page.getByRole('img', { name: 'Requests to orders per 10 seconds' }).waitFor();
    await shot(page, '09-live');

    // Revoke it from its page, with a confirmation step.
    await page.goto(`/#/tokens/${tokenId}`);
    await page.getByRole('heading', { name: 'Token ci-job' }).waitFor();
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('button', { name: 'Confirm revoke' }).click();
    await expect.poll(() => page.getByTestId('token-status').innerText(), WAIT).toBe('revoked');
    await shot(page, '10-token-revoked');

    // The next request is refused, and the refusal shows in the overview.
    const refused = await gatewayGet(serve.gatewayUrl, token, '/orders/v1/orders/7');
    expect([refused.status, refused.body.error]).toEqual([401, 'token_revoked']);
    await expect.poll(async () => (await decisionsOf(tokenId)).some((e) => e.detail.reason === 'token_revoked'), WAIT).toBe(true);
    await goTo(page, 'Overview', 'Overview');
    const refusals = page.getByRole('region', { name: 'Recent refusals by reason' });
    await expect.poll(() => refusals.innerText(), WAIT).toContain('token_revoked');
    expect(await refusals.innerText()).toContain('ci-job');
    await shot(page, '11-overview-refusal');

    // Signing out ends the session on the server too.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Latchkey' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Latchkey' }).waitFor();

    expect(problems).toEqual([]);
    await context.close();
  });

  it('is usable by keyboard and readable at phone width', async () => {
    const { context, page, problems } = await newPage({ width: 390, height: 844 });
    await signIn(page);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    // The focused element is visibly outlined.
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    for (const [hash, heading, name] of [['#/tokens/new', 'Create a token', 'phone-create-token'], ['#/', 'Overview', 'phone-overview'], ['#/audit', 'Audit', 'phone-audit']] as const) {
      await page.goto(`/${hash}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      // Nothing wider than the screen: no sideways scrolling of the page.
      expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
      await shot(page, name);
    }
    // Add a service at phone width.
    await page.goto('/#/catalog');
    await page.getByLabel('Name', { exact: true }).fill('billing');
    await page.getByLabel('Kind').selectOption('http');
    await page.getByLabel('Environment', { exact: true }).selectOption('dev');
    await page.getByLabel('Upstream URL', { exact: true }).fill(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/billing`);
    await page.getByRole('button', { name: 'Add service' }).click();
    await page.getByText('Service billing added.').waitFor();
    expect((await admin('GET', '/v1/services/billing')).body.bindings).toMatchObject([{ env: 'dev', upstream: expect.stringMatching(/\/billing$/) }]);
    // Edit a service at phone width: bind orders in staging too.
    await page.getByLabel('Service to change').selectOption('orders');
    await page.getByLabel('In environment').selectOption('staging');
    await page.getByLabel('New upstream URL').fill(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/staging`);
    await page.getByRole('button', { name: 'Save binding' }).click();
    await page.getByText(/^Service orders now reaches .* in staging\.$/).waitFor();
    await expect.poll(async () => (await admin('GET', '/v1/services/orders')).body.bindings.map((b: { env: string }) => b.env).sort(), WAIT).toEqual(['dev', 'staging']);
    await shot(page, 'phone-services');
    // The create form can be filled without a mouse: tab to the name field and type.
    await page.goto('/#/tokens/new');
    await page.getByLabel('Name').focus();
    await page.keyboard.type('kbd-job');
    expect(await page.getByLabel('Name').inputValue()).toBe('kbd-job');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('refuses a cross-site form post riding on the session', async () => {
    const { context, page, problems } = await newPage();
    await signIn(page);
    const victim = (await admin('POST', '/v1/tokens', { name: 'victim', env: 'dev', roles: ['orders-reader'], ttl: '1h' })).body.id as string;
    // The attacker's page, on another site (localhost is not 127.0.0.1), posts a form at the admin API.
    const attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="POST" action="${serve.adminUrl}/v1/tokens/${victim}/revoke"><input name="x" value="1"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((done) => attacker.listen(0, '127.0.0.1', done));
    try {
      const answered = page.waitForResponse((response) => response.url().endsWith(`/v1/tokens/${victim}/revoke`));
      await page.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
      const response = await answered;
      // SameSite=Strict kept the cookie home; without it the Sec-Fetch-Site check would refuse (see console.test.ts).
      expect(response.status()).toBe(401);
      expect((await response.json()).error).toBe('token_missing');
      expect((await admin('GET', `/v1/tokens/${victim}`)).body.status).toBe('active');
    } finally {
      attacker.close();
    }
    // The only failure this page saw is the refused attack itself.
    expect(problems.filter((p) => !p.includes(`/v1/tokens/${victim}/revoke`) && !p.includes('status of 401'))).toEqual([]);
    await context.close();
  });
});
