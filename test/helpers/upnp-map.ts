/**
 * Another program's port mapping, for test/port-mapping.test.ts: maps external TCP port EXTERNAL
 * to INTERNAL_PORT of this host at the UPnP router described at DESCRIPTION_URL, with the words
 * DESCRIPTION, through the port-mapping library directly (not the node's code). Run in the home's
 * namespace, its SOAP requests sent from INTERNAL_ADDRESS (miniupnpd's secure mode maps only for
 * the caller's own address: another address of the namespace is another host of the home). With
 * `take`, it first deletes the router's mapping of EXTERNAL, asked from the namespace's usual
 * address (the router forgot the home node's mapping, a reboot say, and another host takes the
 * port). Prints `{"mapped": PORT}` (the external port the router reserved), then on any line of
 * stdin (or its end) removes it, prints `{"removed": true}` and exits.
 * Usage: node upnp-map.ts DESCRIPTION_URL INTERNAL_ADDRESS INTERNAL_PORT EXTERNAL DESCRIPTION [take]
 */
import { createInterface } from 'node:readline';
import { upnpNat } from '@achingbrain/nat-port-mapper';
import { Agent, fetch as undiciFetch } from 'undici';

const [location, internalAddress, internalPort, external, description, take] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
const gateway = await upnpNat({ description, autoRefresh: false }).getGateway(new URL(location), { signal: AbortSignal.timeout(10_000) });
/** The library's device (its unmap deletes the internal port taken as the external one): asked to delete TCP `port`. */
const device = (gateway as unknown as { gateway: { run(service: string, action: string, args: Array<[string, string | number]>, options: { signal: AbortSignal }): Promise<unknown> } }).gateway;
const deleteAt = (port: number) => device.run('urn:schemas-upnp-org:service:WANIPConnection:2', 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', port], ['NewProtocol', 'TCP']], { signal: AbortSignal.timeout(10_000) });
if (take === 'take') await deleteAt(Number(external));
// From here on every request of the library is sent from INTERNAL_ADDRESS.
const fromInternal = new Agent({ localAddress: internalAddress });
globalThis.fetch = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: fromInternal })) as unknown as typeof fetch;
const mapped = await gateway.map(Number(internalPort), internalAddress, { externalPort: Number(external), protocol: 'tcp', ttl: 3_600_000, autoRefresh: false });
process.stdout.write(JSON.stringify({ mapped: mapped.externalPort }) + '\n');
const lines = createInterface({ input: process.stdin });
const done = async () => {
  lines.close();
  await deleteAt(mapped.externalPort).catch(() => undefined);
  await gateway.stop().catch(() => undefined);
  process.stdout.write(JSON.stringify({ removed: true }) + '\n');
  process.exit(0);
};
lines.once('line', () => void done());
lines.once('close', () => void done());
