/**
 * A hostile host on the home's link, for test/redteam/gateway-datagrams.test.ts: run inside the
 * router namespace of test/helpers/netns-router.ts (`upnp: false`, so no miniupnpd answers), it
 * answers the node's port-mapping requests with datagrams the port-mapping libraries throw on:
 *  - each SSDP M-SEARCH (multicast 239.255.255.250:1900, joined on ADDRESS) with the next of
 *    SSDP_ANSWERS, in turn: a search response without CACHE-CONTROL, then an unknown start line;
 *  - each NAT-PMP request (ADDRESS:5351, the node's default gateway) with one byte.
 * Prints `{"ready": true}` once listening, then one JSON line per datagram it sent.
 * Usage: node hostile-gateway.ts ADDRESS [KIND,…|none] (the SSDP answers to give, in turn; `none`: no SSDP answer)
 */
import { createSocket } from 'node:dgram';

const [address, only] = process.argv.slice(2);
const ALL_SSDP_ANSWERS = [
  // (Its LOCATION at its sender: the node passes on to the library only an answer whose LOCATION is.)
  { kind: 'ssdp-without-cache-control', text: `HTTP/1.1 200 OK\r\nUSN:a\r\nST:b\r\nLOCATION:http://${address}/\r\n\r\n` },
  { kind: 'ssdp-unknown-start-line', text: 'FOO * HTTP/1.1\r\nST:b\r\n\r\n' },
];
const SSDP_ANSWERS = only ? ALL_SSDP_ANSWERS.filter((a) => only.split(',').includes(a.kind)) : ALL_SSDP_ANSWERS;

const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
let searches = 0;
const ssdp = createSocket({ type: 'udp4', reuseAddr: true });
ssdp.on('message', (message, from) => {
  if (!message.toString('latin1').startsWith('M-SEARCH') || SSDP_ANSWERS.length === 0) return;
  const answer = SSDP_ANSWERS[searches++ % SSDP_ANSWERS.length]!;
  ssdp.send(answer.text, from.port, from.address, () => say({ sent: answer.kind, to: `${from.address}:${from.port}` }));
});
const pmp = createSocket('udp4');
pmp.on('message', (_message, from) => {
  pmp.send(Buffer.from([0]), from.port, from.address, () => say({ sent: 'nat-pmp-one-byte', to: `${from.address}:${from.port}` }));
});
await Promise.all([
  new Promise<void>((resolve) => ssdp.bind(1900, () => {
    ssdp.addMembership('239.255.255.250', address);
    resolve();
  })),
  new Promise<void>((resolve) => pmp.bind(5351, address, resolve)),
]);
say({ ready: true });
