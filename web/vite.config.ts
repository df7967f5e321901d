import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is built once, at `npm run build`, into dist/web, which the admin
// listener serves; nothing is fetched from a CDN at run time.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The CSP forbids inline scripts: no module-preload polyfill, no inlined assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
