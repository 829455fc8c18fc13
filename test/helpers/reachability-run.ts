/**
 * Runs one of the node's reachability components inside a network namespace, for the namespace
 * tests against miniupnpd:
 *  - `pinhole ADDRESS PORT [TTL_MS [DESCRIPTION_URL]]`: Ipv6Pinhole (main/core/reachability/ipv6-pinhole.ts)
 *    opens a pinhole to ADDRESS:PORT (test/ipv6-pinhole.test.ts), at the router described at
 *    DESCRIPTION_URL when given;
 *  - `port-mapper upnp|pmp|upnp,pmp PORT [TTL_MS [DESCRIPTION_URL]]`: PortMapper (main/core/reachability/port-mapping.ts)
 *    maps PORT with that method (or those, in that order) (test/port-mapping.test.ts), with UPnP at the router described at
 *    DESCRIPTION_URL when given (else the one SSDP finds).
 * It prints the result as one JSON line, then answers `status` lines with the component's state
 * ({"pinhole": …} or {"mapping": …}; the component renews a short lease by itself meanwhile),
 * `open-twice` lines by asking for it twice at once and printing both answers (a JSON array),
 * `remove-stay` lines by removing it and printing {"removed": true} while the process runs on (what
 * was under way may still end), and on any other line (or the end of stdin) removes it, prints
 * {"removed": true} and exits.
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
    const [address, port, ttl, descriptionUrl] = args;
    const { Ipv6Pinhole } = await import('../../main/core/reachability/ipv6-pinhole.ts');
    const pinhole = new Ipv6Pinhole(thread, { ...(ttl ? { ttlMs: Number(ttl) } : {}), ...(descriptionUrl ? { upnpDescriptionUrl: descriptionUrl } : {}) });
    return { open: () => pinhole.open(address!, Number(port)), status: () => ({ pinhole: pinhole.pinhole }), remove: () => pinhole.remove() };
  }
  if (kind === 'port-mapper') {
    const [method, port, ttl, descriptionUrl] = args;
    const { PortMapper } = await import('../../main/core/reachability/port-mapping.ts');
    let renewed = 0;
    const mapper = new PortMapper(thread, { methods: method!.split(',') as Array<'upnp' | 'pmp'>, ...(ttl ? { ttlMs: Number(ttl) } : {}), ...(descriptionUrl ? { upnpDescriptionUrl: descriptionUrl } : {}), onRenewed: () => renewed++ });
    return { open: () => mapper.map(Number(port)), status: () => ({ mapping: mapper.mapping, renewed }), remove: () => mapper.remove() };
  }
  throw new Error(`usage: reachability-run.ts pinhole ADDRESS PORT [TTL_MS [DESCRIPTION_URL]] | port-mapper upnp|pmp PORT [TTL_MS [DESCRIPTION_URL]] (not ${kind})`);
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
  if (line === 'open-twice') {
    // Two requests at once (a test asked for while the start's request runs): both answers.
    process.stdout.write(JSON.stringify(await Promise.all([running.open(), running.open()])) + '\n');
    continue;
  }
  if (line === 'remove-stay') {
    await running.remove();
    process.stdout.write(JSON.stringify({ removed: true }) + '\n');
    continue;
  }
  break;
}
await running.remove();
await thread.stop();
process.stdout.write(JSON.stringify({ removed: true }) + '\n');
process.exit(0);
