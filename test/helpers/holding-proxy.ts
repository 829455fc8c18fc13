/**
 * An HTTP proxy in front of a router's UPnP server, for test/port-mapping.test.ts: it forwards
 * every request to TARGET (miniupnpd's HTTP origin) as it came, except that the NTH SOAP call of
 * ACTION (its SOAPAction header's `#ACTION`) is held HOLD_MS before it is forwarded, as a slow
 * link or router would; with HOLD_MS `break` it is forwarded at once, and the router's answer is
 * replaced by text no SOAP client reads (`{"broken": ACTION, "n": NTH}`): the router did it, the
 * caller cannot know; with `fault`, by a UPnP SOAP fault (HTTP 500, error 501 Action Failed:
 * `{"faulted": ACTION, "n": NTH}`). ACTION may name several, `A,B`: the NTH call of each. Run in the home's namespace, so that miniupnpd sees the calls come from
 * the home node's address (its secure mode maps only for the caller's own address).
 * Prints `{"ready": true}` once listening, then `{"request": "METHOD PATH", "action"?, "n"?}` as
 * each request comes, `{"held": ACTION, "n": NTH}` when it holds one, and
 * `{"answered": "METHOD PATH", "action"?, "n"?, "status"}` once the router answered it.
 * Usage: node holding-proxy.ts LISTEN_ADDRESS LISTEN_PORT TARGET ACTION NTH HOLD_MS
 */
import { createServer, request } from 'node:http';

const [address, port, target, action, nth, holdMs] = process.argv.slice(2) as [string, string, string, string, string, string];
const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
const counts = new Map<string, number>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const called = /#(\w+)"?$/.exec(String(req.headers.soapaction ?? ''))?.[1];
    const n = called ? (counts.get(called) ?? 0) + 1 : undefined;
    if (called) counts.set(called, n!);
    const about = { request: `${req.method} ${req.url}`, ...(called ? { action: called, n } : {}) };
    say(about);
    const chosen = called !== undefined && action.split(',').includes(called) && n === Number(nth);
    const breaking = chosen && (holdMs === 'break' || holdMs === 'fault');
    const forward = () => {
      const upstream = request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
        if (breaking) {
          answer.resume();
          answer.on('end', () => {
            if (holdMs === 'fault') {
              say({ faulted: called, n, status: answer.statusCode });
              res.writeHead(500, { 'content-type': 'text/xml; charset="utf-8"' });
              res.end('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>501</errorCode><errorDescription>Action Failed</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>');
              return;
            }
            say({ broken: called, n, status: answer.statusCode });
            res.writeHead(200, { 'content-type': 'text/xml' });
            res.end('<?xml version="1.0"?><s:Envelope');
          });
          return;
        }
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
        answer.on('end', () => say({ answered: about.request, ...(called ? { action: called, n } : {}), status: answer.statusCode }));
      });
      upstream.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      upstream.end(Buffer.concat(chunks));
    };
    if (chosen && !breaking) {
      say({ held: called, n });
      setTimeout(forward, Number(holdMs));
    } else {
      forward();
    }
  });
});
server.listen(Number(port), address, () => say({ ready: true }));
