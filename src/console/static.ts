import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The console's built assets (Vite, at `npm run build`), read once at start
// into memory and served by exact path: no file system access per request,
// nothing outside the build folder, nothing from a CDN.

/** From src/console/ (tests) and dist/console/ (built) alike: <package>/dist/web/. */
export const ASSETS_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/**
 * Scripts and styles only from this origin, no inline script or style, no
 * framing, no plugins; fetch and server-sent events only to this origin.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), clipboard-write=(self)',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  /** Hashed file names never change; index.html must be fetched afresh. */
  readonly immutable: boolean;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** URL path (`/assets/index-abc.js`) → asset; empty when the console was not built. */
export function loadAssets(dir: string = ASSETS_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  for (const file of filesUnder(dir)) {
    const type = TYPES[extname(file)];
    if (type === undefined) continue;
    const path = `/${relative(dir, file).split(/[\\/]/).join('/')}`;
    assets.set(path, { body: readFileSync(file), type, immutable: path.startsWith('/assets/') });
  }
  return assets;
}
