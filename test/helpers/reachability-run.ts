/**
 * Runs one of the node's reachability components inside a network namespace, for the namespace
 * tests against miniupnpd:
 *  - `pinhole ADDRESS PORT [TTL_MS]`: Ipv6Pinhole (main/core/reachability/ipv6-pinhole.ts) opens a
 *    pinhole to ADDRESS:PORT (test/ipv6-pinhole.test.ts);
 *  - `port-mapper upnp|pmp PORT [TTL_MS]`: PortMapper (main/core/reachability/port-mapping.ts) maps
 *    PORT with that method (test/port-mapping.test.ts).
 * It prints the result as one JSON line, then answers `status` lines with the component's state
 * ({"pinhole": …} or {"mapping": …}; the component renews a short lease by itself meanwhile), and
 * on any other line (or the end of stdin) removes it and prints {"removed": true}.
 * Usage: node reachability-run.ts pinhole|port-mapper ARGS…
 */
import { createInterface } from 'node:readline';

interface Component {
  open(): Promise<unknown>;
  status(): Record<string, unknown>;
  remove(): Promise<void>;
}

const [kind, ...args] = process.argv.slice(2);
const { GatewayThread } = await import('../../main/core/reachability/gateway-thread.ts');
/** The gateway worker, as a node's composition root builds it; stopped once the component is removed. */
const thread = new GatewayThread();

/** The component the arguments name; only its module is loaded. */
async function component(): Promise<Component> {
  if (kind === 'pinhole') {
    const [address, port, ttl] = args;
    const { Ipv6Pinhole } = await import('../../main/core/reachability/ipv6-pinhole.ts');
    const pinhole = new Ipv6Pinhole(thread, ttl ? { ttlMs: Number(ttl) } : {});
    return { open: () => pinhole.open(address!, Number(port)), status: () => ({ pinhole: pinhole.pinhole }), remove: () => pinhole.remove() };
  }
  if (kind === 'port-mapper') {
    const [method, port, ttl] = args;
    const { PortMapper } = await import('../../main/core/reachability/port-mapping.ts');
    let renewed = 0;
    const mapper = new PortMapper(thread, { methods: [method as 'upnp' | 'pmp'], ...(ttl ? { ttlMs: Number(ttl) } : {}), onRenewed: () => renewed++ });
    return { open: () => mapper.map(Number(port)), status: () => ({ mapping: mapper.mapping, renewed }), remove: () => mapper.remove() };
  }
  throw new Error(`usage: reachability-run.ts pinhole ADDRESS PORT [TTL_MS] | port-mapper upnp|pmp PORT [TTL_MS] (not ${kind})`);
}

const running = await component();
const result = await running.open();
process.stdout.write(JSON.stringify(result) + '\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === 'status') {
    process.stdout.write(JSON.stringify(running.status()) + '\n');
    continue;
  }
  break;
}
await running.remove();
await thread.stop();
process.stdout.write(JSON.stringify({ removed: true }) + '\n');
process.exit(0);
