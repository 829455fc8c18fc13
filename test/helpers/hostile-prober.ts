/**
 * A hostile peer for test/reachability-proof-nat.test.ts, run inside a network namespace (a
 * FakePeer: discovery and keys served honestly): it answers every reach-probe "reachable" without
 * calling the prober back (it ignores the nonce; it could not reach a node behind a NAT router
 * anyway), and answers every `GET /pull` with an empty page and `X-Paracord-Delivery-Failing:
 * network`, which makes the puller test its reachability through it.
 * Prints `{"ready": true, "url": …}`, then one line per probe `{"probe": n, "body": …}`; ends
 * (its identity's temp dir removed) when stdin ends.
 * Usage: node hostile-prober.ts SERVER_NAME HOST PORT
 */
import { createInterface } from 'node:readline';
import { DELIVERY_FAILING_HEADER } from '../../main/core/federation/http-client.ts';
import { PULL_PATH, REACH_PROBE_PATH } from '../../main/core/federation/paths.ts';
import { FakePeer } from './fake-peer.ts';
import { removeTempDirs } from './temp-dir.ts';

const [name, host, port] = process.argv.slice(2);
const peer = new FakePeer(name!);
let probes = 0;
peer.routes.set(REACH_PROBE_PATH, () => {
  probes += 1;
  process.stdout.write(JSON.stringify({ probe: probes }) + '\n');
  return { status: 200, body: { reachable: true, status: 'reachable', latency_ms: 3, error: null, families: { ipv4: true, ipv6: null } } };
});
peer.routes.set(PULL_PATH, (url) => ({ status: 200, body: { events: [], cursor: url.searchParams.get('cursor') ?? '0' }, headers: { [DELIVERY_FAILING_HEADER]: 'network' } }));
await peer.start(host, Number(port));
process.stdout.write(JSON.stringify({ ready: true, url: peer.url }) + '\n');
for await (const _line of createInterface({ input: process.stdin })) break;
await peer.stop();
removeTempDirs();
process.exit(0);
