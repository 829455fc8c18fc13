/**
 * Runs the node's Ipv6Pinhole (main/core/reachability/ipv6-pinhole.ts) inside a network namespace
 * for test/ipv6-pinhole.test.ts: opens a pinhole to ADDRESS:PORT, prints the result as one JSON
 * line, then answers `status` lines with the pinhole, and on any other line (or the end of stdin)
 * closes it and prints {"removed": true}. Usage: node pinhole-run.ts ADDRESS PORT [TTL_MS]
 */
import { createInterface } from 'node:readline';
import { Ipv6Pinhole } from '../../main/core/reachability/ipv6-pinhole.ts';

const [address, port, ttl] = process.argv.slice(2);
const pinhole = new Ipv6Pinhole(ttl ? { ttlMs: Number(ttl) } : {});
const result = await pinhole.open(address!, Number(port));
process.stdout.write(JSON.stringify(result) + '\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'status') {
    process.stdout.write(JSON.stringify({ pinhole: pinhole.pinhole }) + '\n');
    continue;
  }
  break;
}
await pinhole.remove();
process.stdout.write(JSON.stringify({ removed: true }) + '\n');
process.exit(0);
