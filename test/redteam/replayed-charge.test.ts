/**
 * Red team (2026-11-26, federation edge and keys): a replayed request spent its origin's rate
 * limit. Whoever holds one request a server signed for us (a mailbox it was left at, a plain-http
 * path) sent it again and again within its minute: each copy passed the signature check and was
 * charged to the server's own bucket before the replay check answered 409, so the server's real
 * requests were refused 429 and the refusals counted towards quarantining it. Now a request
 * already seen is refused 409 before anything is charged, and a request refused 429 is recorded
 * as seen like any other, so no copy of it is charged again.
 */
import { describe, expect, it } from '../helpers/fixtures.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import { bindingDestinationOf, sendRaw, sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

describe('red team: a replayed request', () => {
  it('costs its origin nothing of its rate limit and does not get it quarantined', async ({ fileNodes }) => {
    const a = await fileNodes.inProcess('alpha.test');
    const sig = await fileNodes.fakePeer('sig.test');
    expect((await a.admin('POST', '/peers', { server_name: 'sig.test', endpoint: sig.url })).status).toBe(200);
    expect((await a.admin('PUT', '/peers/sig.test/trust', { mode: 'allow', rate_limit: { per_second: 0.2, burst: 5 } })).status).toBe(200);
    expect((await a.admin('PUT', '/policy', { auto_quarantine: { signature_failures: 20, rate_limited: 5, window_seconds: 600 } })).status).toBe(200);
    const url = a.started.federation_url!;

    // One request sig.test signed for alpha, as a mailbox or an observer holds it.
    const path = `${FED}/keys/cache?server_name=nobody.test`;
    const headers = signRequestHeaders(sig.identity, 'GET', path, '', Date.now(), await bindingDestinationOf(url));
    expect((await sendRaw(url + path, 'GET', headers)).status).toBe(404);
    const replays: number[] = [];
    for (let i = 0; i < 30; i++) replays.push((await sendRaw(url + path, 'GET', headers)).status);
    expect(new Set(replays)).toEqual(new Set([409]));

    // sig.test's own next requests are still within its limit, and it is not quarantined.
    for (let i = 0; i < 3; i++) expect((await sendSigned(sig.identity, url, 'GET', path)).status).toBe(404);
    const peer = (await a.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'sig.test');
    expect(peer.trust).toBe('allow');

    // The twin: sig.test's own flood past its limit is still refused 429 and counted.
    const own: number[] = [];
    for (let i = 0; i < 12; i++) own.push((await sendSigned(sig.identity, url, 'GET', path)).status);
    expect(own).toContain(429);
    const after = (await a.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'sig.test');
    expect(after.trust).toBe('quarantine');
  }, 60_000);
});
