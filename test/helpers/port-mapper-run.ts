/**
 * Runs the node's PortMapper (main/core/reachability/port-mapping.ts) inside a network namespace
 * for test/port-mapping.test.ts: maps PORT with the given methods, prints the mapping as one JSON
 * line, waits (renewing if the lease is short) until a line arrives on stdin, removes the mapping,
 * prints {"removed": true}. Usage: node port-mapper-run.ts upnp|pmp PORT [TTL_MS]
 */
import { createInterface } from 'node:readline';
import { PortMapper } from '../../main/core/reachability/port-mapping.ts';

const [method, port, ttl] = process.argv.slice(2);
const mapper = new PortMapper({ methods: [method as 'upnp' | 'pmp'], ...(ttl ? { ttlMs: Number(ttl) } : {}) });
const result = await mapper.map(Number(port));
process.stdout.write(JSON.stringify(result) + '\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'status') {
    process.stdout.write(JSON.stringify({ mapping: mapper.mapping }) + '\n');
    continue;
  }
  break;
}
await mapper.remove();
process.stdout.write(JSON.stringify({ removed: true }) + '\n');
process.exit(0);
