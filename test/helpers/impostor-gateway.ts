/**
 * Hosts on the home's link that answer for the router, for test/redteam/gateway-datagrams.test.ts
 * (run in the namespaces of test/helpers/netns-router.ts, `upnp: false`: no miniupnpd answers).
 * Prints `{"ready": true}` once listening, then one JSON line per datagram or request.
 *
 * `pmp GATEWAY OTHER`: a NAT-PMP gateway at GATEWAY:5351 (the node's default gateway) that answers
 * each request three times, in this order: from OTHER:5351 (another address), from GATEWAY:5352
 * (another port), each saying the mapping's external port is 40000 + the request's number and the
 * external address 6.6.6.6; then, 200 ms later, from GATEWAY:5351 as a gateway would (the port
 * asked for; external address OTHER). Only the last is the gateway's own answer (RFC 6886 §3.1).
 *
 * Usage: node impostor-gateway.ts pmp GATEWAY OTHER
 */
import { createSocket, type Socket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');

function bound(address: string, port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => socket.bind(port, address, () => resolve(socket)));
}

/** A NAT-PMP answer to `request` (RFC 6886 §3.2, §3.3): `externalPort` for a mapping, `externalAddress` for op 0. */
function pmpAnswer(request: Buffer, externalPort: number, externalAddress: string): Buffer {
  const op = request.readUInt8(1);
  const answer = Buffer.alloc(op === 0 ? 12 : 16);
  answer.writeUInt8(0, 0);
  answer.writeUInt8(128 + op, 1);
  answer.writeUInt16BE(0, 2);
  answer.writeUInt32BE(Math.floor(process.uptime()), 4);
  if (op === 0) {
    externalAddress.split('.').forEach((octet, i) => answer.writeUInt8(Number(octet), 8 + i));
  } else {
    answer.writeUInt16BE(request.readUInt16BE(4), 8);
    answer.writeUInt16BE(externalPort, 10);
    answer.writeUInt32BE(request.readUInt32BE(8), 12);
  }
  return answer;
}

if (mode === 'pmp') {
  const [gateway, other] = args as [string, string];
  const [own, otherAddress, otherPort] = await Promise.all([bound(gateway, 5351), bound(other, 5351), bound(gateway, 5352)]);
  let requests = 0;
  own.on('message', (request, from) => {
    if (request.length < 2) return;
    const n = ++requests;
    const asked = request.readUInt8(1) === 0 ? 0 : request.readUInt16BE(6);
    const forged = pmpAnswer(request, 40_000 + n, '6.6.6.6');
    otherAddress.send(forged, from.port, from.address, () => say({ forged: n, from: `${other}:5351` }));
    otherPort.send(forged, from.port, from.address, () => say({ forged: n, from: `${gateway}:5352` }));
    setTimeout(() => own.send(pmpAnswer(request, asked, other), from.port, from.address, () => say({ answered: n, op: request.readUInt8(1) })), 200);
  });
  say({ ready: true });
} else {
  throw new Error(`usage: impostor-gateway.ts pmp GATEWAY OTHER (not ${mode})`);
}
