/**
 * The node's public entry points; the composition root itself is in node/ (create-node.ts).
 */
export { createNode, type NodeOptions, type ParacordNode, type StartedNode } from './node/create-node.ts';
export { initDataDir } from './node/data-dir-init.ts';
