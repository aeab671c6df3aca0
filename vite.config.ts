import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./renderer', import.meta.url));

export default defineConfig({
  root,
  // Relative asset paths: the same build is served by studio://app/ (Electron) and by browser mode.
  base: './',
  plugins: [vue()],
  resolve: {
    alias: { '@api': fileURLToPath(new URL('./main/api/index.ts', import.meta.url)) },
  },
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2023',
    // Keep the module-preload polyfill out of the page: it is not needed by Chromium and CSP
    // allows scripts from 'self' only.
    modulePreload: { polyfill: false },
  },
});
