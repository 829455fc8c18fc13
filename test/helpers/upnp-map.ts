/**
 * Another program's port mapping, for test/port-mapping.test.ts: maps external TCP port EXTERNAL
 * to INTERNAL_PORT of this host at the UPnP router described at DESCRIPTION_URL, with the words
 * DESCRIPTION, through the port-mapping library directly (not the node's code). Run in the home's
 * namespace (miniupnpd's secure mode maps only for the caller's own address). Prints
 * `{"mapped": PORT}` (the external port the router reserved), then on any line of stdin (or its
 * end) removes it, prints `{"removed": true}` and exits.
 * Usage: node upnp-map.ts DESCRIPTION_URL INTERNAL_ADDRESS INTERNAL_PORT EXTERNAL DESCRIPTION
 */
import { createInterface } from 'node:readline';
import { upnpNat } from '@achingbrain/nat-port-mapper';

const [location, internalAddress, internalPort, external, description] = process.argv.slice(2) as [string, string, string, string, string];
const gateway = await upnpNat({ description, autoRefresh: false }).getGateway(new URL(location), { signal: AbortSignal.timeout(10_000) });
const mapped = await gateway.map(Number(internalPort), internalAddress, { externalPort: Number(external), protocol: 'tcp', ttl: 3_600_000, autoRefresh: false });
process.stdout.write(JSON.stringify({ mapped: mapped.externalPort }) + '\n');
const lines = createInterface({ input: process.stdin });
const done = async () => {
  lines.close();
  await gateway.unmap(Number(internalPort)).catch(() => undefined);
  await gateway.stop().catch(() => undefined);
  process.stdout.write(JSON.stringify({ removed: true }) + '\n');
  process.exit(0);
};
lines.once('line', () => void done());
lines.once('close', () => void done());
