/**
 * Hosts on the home's link that answer for the router, for test/redteam/gateway-datagrams.test.ts
 * (run in the namespaces of test/helpers/netns-router.ts, `upnp: false`: no miniupnpd answers).
 * Prints `{"ready": true}` once listening, then one JSON line per datagram or request.
 *
 * `pmp GATEWAY OTHER [GRANT]`: a NAT-PMP gateway at GATEWAY:5351 (the node's default gateway) that answers
 * each request three times, in this order: from OTHER:5351 (another address), from GATEWAY:5352
 * (another port), each saying the mapping's external port is 40000 + the request's number and the
 * external address 6.6.6.6; then, 200 ms later, from GATEWAY:5351 as a gateway would (the port
 * asked for; external address OTHER; the lease asked for, or at most GRANT seconds). Only the last
 * is the gateway's own answer (RFC 6886 §3.1).
 *
 * `ssdp-crowd GATEWAY OTHER N [at-gateway]`: answers each SSDP search first N times from OTHER
 * (another host of the link), each at a LOCATION of its own there (http://OTHER:5000/aK) where its
 * server accepts and never answers (`at-gateway`: at the gateway's address, http://GATEWAY:500K/aK,
 * where nothing listens), then once from GATEWAY with its description (`http`, below).
 *
 * `ssdp GATEWAY ELSEWHERE`: answers each SSDP search (multicast, joined on GATEWAY) twice from
 * GATEWAY, as an IGDv2 router: first with LOCATION ELSEWHERE (a URL on another host), then with
 * LOCATION http://GATEWAY:5000/rootDesc.xml, which it serves itself (`http`, below).
 *
 * `ssdp-from OTHER GATEWAY`: answers each SSDP search (joined on GATEWAY) once from OTHER (another
 * of the router's addresses), as an IGDv2 router, with LOCATION http://GATEWAY:5000/rootDesc.xml,
 * which it serves itself (`http`, below): a router whose answers leave from another of its
 * addresses than the one its description names.
 *
 * `ssdp-redirect GATEWAY TARGET COPIES`: answers each SSDP search (joined on GATEWAY) COPIES times
 * with the same answer, LOCATION http://GATEWAY:5000/rootDesc.xml, where its server answers
 * 302 with Location TARGET (a URL on another host).
 *
 * `ssdp-garbage GATEWAY`: answers each SSDP search once with LOCATION
 * http://GATEWAY:5000/rootDesc.xml, serves the description there, takes every port mapping
 * (AddAnyPortMapping: the port asked for), and names as its external address a text that is no
 * address (with a terminal escape in it).
 *
 * `ssdp-taker GATEWAY OTHER`: another host of the link (OTHER, not the gateway) that answers each
 * SSDP search from OTHER as an IGDv2 device at http://OTHER:5000/rootDesc.xml, serves that
 * description, takes every port mapping and names 100.64.9.9 as its external address: a device
 * that is not the home's router (a mesh node, a second router, a hostile host).
 *
 * `http ADDRESS PORT`: serves an IGDv2 description at /rootDesc.xml (its WANIPConnection:2 control
 * URL on itself) and answers every SOAP call with a UPnP fault; prints `{"request": "METHOD PATH"}`
 * for each request.
 *
 * Usage: node impostor-gateway.ts pmp GATEWAY OTHER [GRANT] | ssdp GATEWAY ELSEWHERE | ssdp-from OTHER GATEWAY
 *   | ssdp-redirect GATEWAY TARGET COPIES | ssdp-garbage GATEWAY | ssdp-crowd GATEWAY OTHER N [at-gateway] | ssdp-taker GATEWAY OTHER | http ADDRESS PORT
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:http';

const [mode, ...args] = process.argv.slice(2);
const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
const IGD2 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:2';
const DESCRIPTION = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>${IGD2}</deviceType><UDN>uuid:impostor</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>`;
const FAULT = `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>606</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`;

/** A SOAP answer of WANIPConnection:2's `action`, with these fields. */
const soapAnswer = (action: string, fields: string) => `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2">${fields}</u:${action}Response></s:Body></s:Envelope>`;

/**
 * The server of the `http` mode and the SSDP modes: the description (or, `redirectTo`, a 302 to
 * that URL), a fault for every SOAP call (or, `garbage`, every mapping taken and an external
 * address that is no address), each request said.
 */
function serveDescription(address: string, port: number, options: { redirectTo?: string; garbage?: boolean; external?: string } = {}): Promise<void> {
  const server = createServer((req, res) => {
    say({ request: `${req.method} ${req.url}` });
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const description = req.method === 'GET' && req.url === '/rootDesc.xml';
      if (description && options.redirectTo) {
        res.writeHead(302, { location: options.redirectTo, 'content-type': 'text/xml' });
        res.end();
        return;
      }
      if (!description && (options.garbage || options.external)) {
        const action = /#(\w+)"?$/.exec(String(req.headers.soapaction ?? ''))?.[1] ?? '';
        const asked = /<NewExternalPort>(\d+)</.exec(body)?.[1] ?? '0';
        res.writeHead(200, { 'content-type': 'text/xml; charset="utf-8"' });
        say({ action, protocol: /<NewProtocol>([^<]*)</.exec(body)?.[1] ?? null });
        res.end(action === 'GetExternalIPAddress'
          ? soapAnswer(action, `<NewExternalIPAddress>${options.external ?? '\u001b[2Jnot an address'}</NewExternalIPAddress>`)
          : soapAnswer(action, `<NewReservedPort>${asked}</NewReservedPort>`));
        return;
      }
      res.writeHead(description ? 200 : 500, { 'content-type': 'text/xml; charset="utf-8"' });
      res.end(description ? DESCRIPTION : FAULT);
    });
  });
  return new Promise((resolve) => server.listen(port, address, resolve));
}

function bound(address: string, port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => socket.bind(port, address, () => resolve(socket)));
}

/** A NAT-PMP answer to `request` (RFC 6886 §3.2, §3.3): `externalPort` for a mapping, `externalAddress` for op 0. */
function pmpAnswer(request: Buffer, externalPort: number, externalAddress: string, grant = Infinity): Buffer {
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
    answer.writeUInt32BE(Math.min(request.readUInt32BE(8), grant), 12);
  }
  return answer;
}

if (mode === 'pmp') {
  const [gateway, other, grant] = args as [string, string, string | undefined];
  const [own, otherAddress, otherPort] = await Promise.all([bound(gateway, 5351), bound(other, 5351), bound(gateway, 5352)]);
  let requests = 0;
  own.on('message', (request, from) => {
    if (request.length < 2) return;
    const n = ++requests;
    const asked = request.readUInt8(1) === 0 ? 0 : request.readUInt16BE(6);
    const forged = pmpAnswer(request, 40_000 + n, '6.6.6.6');
    otherAddress.send(forged, from.port, from.address, () => say({ forged: n, from: `${other}:5351` }));
    otherPort.send(forged, from.port, from.address, () => say({ forged: n, from: `${gateway}:5352` }));
    setTimeout(() => own.send(pmpAnswer(request, asked, other, grant === undefined ? Infinity : Number(grant)), from.port, from.address, () => say({ answered: n, op: request.readUInt8(1) })), 200);
  });
  say({ ready: true });
} else if (mode === 'ssdp' || mode === 'ssdp-from' || mode === 'ssdp-redirect' || mode === 'ssdp-garbage') {
  const [gateway, elsewhere, answerFrom] = mode === 'ssdp' ? [args[0]!, args[1]!, null] : mode === 'ssdp-from' ? [args[1]!, null, args[0]!] : [args[0]!, null, null];
  const copies = mode === 'ssdp-redirect' ? Number(args[2]) : 1;
  await serveDescription(gateway, 5000, mode === 'ssdp-redirect' ? { redirectTo: args[1]! } : { garbage: mode === 'ssdp-garbage' });
  const ssdp = createSocket({ type: 'udp4', reuseAddr: true });
  const sender = answerFrom === null ? ssdp : await bound(answerFrom, 0);
  ssdp.on('message', (message, from) => {
    if (!message.toString('latin1').startsWith('M-SEARCH')) return;
    for (const location of [...(elsewhere === null ? [] : [elsewhere]), `http://${gateway}:5000/rootDesc.xml`]) {
      const answer = `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: ${IGD2}\r\nUSN: uuid:impostor-${location}::${IGD2}\r\nEXT:\r\nLOCATION: ${location}\r\n\r\n`;
      for (let copy = 0; copy < copies; copy++) sender.send(answer, from.port, from.address, () => say({ sent: location, to: `${from.address}:${from.port}` }));
    }
  });
  await new Promise<void>((resolve) => ssdp.bind(1900, () => {
    ssdp.addMembership('239.255.255.250', gateway);
    resolve();
  }));
  say({ ready: true });
} else if (mode === 'ssdp-crowd') {
  const [gateway, other, n, where] = args as [string, string, string, string | undefined];
  await serveDescription(gateway, 5000);
  // Accepts, reads, never answers.
  const stalled = createServer((req) => say({ stalled: `${req.method} ${req.url}` }));
  await new Promise<void>((resolve) => stalled.listen(5000, other, resolve));
  const ssdp = createSocket({ type: 'udp4', reuseAddr: true });
  const crowd = await bound(other, 0);
  const answerAt = (location: string) => `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: ${IGD2}\r\nUSN: uuid:impostor-${location}::${IGD2}\r\nEXT:\r\nLOCATION: ${location}\r\n\r\n`;
  ssdp.on('message', (message, from) => {
    if (!message.toString('latin1').startsWith('M-SEARCH')) return;
    // (`at-gateway`: the crowd's LOCATIONs name the gateway's address, at ports nothing listens on.)
    for (let k = 1; k <= Number(n); k++) crowd.send(answerAt(where === 'at-gateway' ? `http://${gateway}:${5000 + k}/a${k}` : `http://${other}:5000/a${k}`), from.port, from.address, () => say({ sent: `crowd ${k}` }));
    setTimeout(() => ssdp.send(answerAt(`http://${gateway}:5000/rootDesc.xml`), from.port, from.address, () => say({ sent: 'gateway' })), 100);
  });
  await new Promise<void>((resolve) => ssdp.bind(1900, () => {
    ssdp.addMembership('239.255.255.250', gateway);
    resolve();
  }));
  say({ ready: true });
} else if (mode === 'ssdp-taker') {
  const [gateway, other] = args as [string, string];
  await serveDescription(other, 5000, { external: '100.64.9.9' });
  const ssdp = createSocket({ type: 'udp4', reuseAddr: true });
  const sender = await bound(other, 0);
  const location = `http://${other}:5000/rootDesc.xml`;
  ssdp.on('message', (message, from) => {
    if (!message.toString('latin1').startsWith('M-SEARCH')) return;
    const answer = `HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: ${IGD2}\r\nUSN: uuid:taker::${IGD2}\r\nEXT:\r\nLOCATION: ${location}\r\n\r\n`;
    sender.send(answer, from.port, from.address, () => say({ sent: location, to: `${from.address}:${from.port}` }));
  });
  await new Promise<void>((resolve) => ssdp.bind(1900, () => {
    ssdp.addMembership('239.255.255.250', gateway);
    resolve();
  }));
  say({ ready: true });
} else if (mode === 'http') {
  await serveDescription(args[0]!, Number(args[1]));
  say({ ready: true });
} else {
  throw new Error(`usage: impostor-gateway.ts pmp GATEWAY OTHER [GRANT] | ssdp GATEWAY ELSEWHERE | ssdp-from OTHER GATEWAY | ssdp-redirect GATEWAY TARGET COPIES | ssdp-garbage GATEWAY | ssdp-crowd GATEWAY OTHER N [at-gateway] | ssdp-taker GATEWAY OTHER | http ADDRESS PORT (not ${mode})`);
}
