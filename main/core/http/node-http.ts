/**
 * node:http through require, for the same reason as router.ts: importing it as an ES module
 * loads Node's bundled undici through the facade's read of the lazy WebSocket export (13 MB of RSS
 * in a bare process; 1.5–2 MB in a serving node, which has paid for most of what undici touches).
 * Every module of the node takes node:http from here (test/startup-modules.test.ts checks that
 * loading the node leaves Node's undici unloaded).
 */
import { createRequire } from 'node:module';

export const { createServer, request, ServerResponse } = createRequire(import.meta.url)('node:http') as typeof import('node:http');
