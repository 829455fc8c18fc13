import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The renderer (Svelte 5) builds to dist/renderer, served by the node on its admin port and
// loaded by the Electron window alike, and at /app/ on the federation listener for members
// (issue #34): asset paths are relative, so the same build works under either path. The member
// app's service worker is its own entry, at a fixed name (sw.js) beside index.html.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [svelte()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL('renderer/index.html', import.meta.url)),
        sw: fileURLToPath(new URL('renderer/src/sw.ts', import.meta.url)),
      },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
});
