import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The renderer (Svelte 5) builds to dist/renderer, served by the node on its admin port and
// loaded by the Electron window alike.
export default defineConfig({
  root: 'renderer',
  base: '/',
  plugins: [svelte()],
  build: { outDir: '../dist/renderer', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
