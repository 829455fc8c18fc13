/**
 * A gateway worker (main/core/reachability/gateway-worker.ts) whose router is slow or silent, for
 * the unit tests of what asks it (GatewayThread's `script`): `map` is answered at once, or after
 * PARACORD_TEST_MAP_MS (a NAT-PMP mapping of the port asked at 192.0.2.1; made by another device
 * than the default gateway when PARACORD_TEST_MAP_ELSEWHERE is set), `firewallControl` at once
 * with the control URL in PARACORD_TEST_CONTROL_URL, `renew` after 7 s (renewed at the address and
 * port of the mapping; after PARACORD_TEST_RENEW_MS instead when set, at the `ADDRESS:PORT` in
 * PARACORD_TEST_RENEWED_AT when set: a router renumbered, or that reserved another port; an
 * ADDRESS of `-` names none, as a router whose WAN is down), and `unmap` never, as by a router
 * that no longer answers; a `map` asked at or after the time (ms since 1970) in
 * PARACORD_TEST_MAP_FAILS_FROM fails. (A worker reads the environment as it was when it started.)
 */
import { parentPort } from 'node:worker_threads';
import type { GatewayMessage, GatewayReply } from '../../main/core/reachability/gateway-thread.ts';

const answer = (reply: GatewayReply) => parentPort!.postMessage(reply);

parentPort!.on('message', (message: GatewayMessage) => {
  if (message.op === 'map' && Date.now() >= Number(process.env.PARACORD_TEST_MAP_FAILS_FROM ?? Infinity)) {
    setTimeout(() => answer({ id: message.id, result: { ok: false, error: 'the router refused it' } }), Number(process.env.PARACORD_TEST_MAP_MS ?? 0));
  } else if (message.op === 'map') {
    const { port } = message.request;
    // As a UPnP router when PARACORD_TEST_MAP_UPNP is set (its removals name the external port).
    const upnp = process.env.PARACORD_TEST_MAP_UPNP !== undefined;
    const gateway = upnp ? { protocol: 'upnp-igd' as const, location: 'http://192.0.2.1:5000/rootDesc.xml' } : { protocol: 'nat-pmp' as const, host: '192.0.2.1' };
    const value = { protocol: upnp ? ('upnp-igd' as const) : ('nat-pmp' as const), external_address: '198.51.100.7', external_port: port, internal_address: '192.0.2.2', internal_port: port, gateway, at_default_gateway: process.env.PARACORD_TEST_MAP_ELSEWHERE === undefined };
    setTimeout(() => answer({ id: message.id, result: { ok: true, value } }), Number(process.env.PARACORD_TEST_MAP_MS ?? 0));
  } else if (message.op === 'firewallControl') {
    answer({ id: message.id, result: { ok: true, value: { controlUrl: process.env.PARACORD_TEST_CONTROL_URL ?? '' } } });
  } else if (message.op === 'renew') {
    const [address, port] = (process.env.PARACORD_TEST_RENEWED_AT ?? `198.51.100.7:${message.request.externalPort}`).split(':');
    const value = { renewed: true as const, ...(address !== '-' ? { external_address: address! } : {}), external_port: Number(port) };
    setTimeout(() => answer({ id: message.id, result: { ok: true, value } }), Number(process.env.PARACORD_TEST_RENEW_MS ?? 7_000));
  }
});
