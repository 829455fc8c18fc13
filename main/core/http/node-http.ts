/**
 * node:http through require, for the same reason as router.ts: importing it as an ES module
 * loads Node's bundled undici (≈ 10 MB) through the facade's read of the lazy WebSocket export.
 */
import { createRequire } from 'node:module';

export const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');
