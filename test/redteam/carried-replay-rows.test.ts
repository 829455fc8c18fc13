/**
 * Red team (a helper's review, 2026-11-27): the replay entry of a request a mailbox carries is kept
 * for the mailbox's week (a copy handed over again is refused). Rows a mailbox could make for free:
 * requests it signed itself (now remembered as direct ones are), and peering requests under names
 * it makes up, with a token that is not ours (refused invalid_token, nothing sent back: now a minute).
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from '../helpers/fixtures.ts';
import { EVENT_PATH, MAILBOX_PATH, PEERING_PATH } from '../../main/core/federation/paths.ts';
import { envelopeWireJson } from '../../main/core/federation/envelope.ts';
import { makeEvent } from '../helpers/events.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';

it('a mailbox carrying peering requests under names it made up, with tokens that are not ours: each refused, none remembered for a week', async ({ nodes }) => {
  const mailbox = await nodes.fakePeer('box.test');
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'box.test', endpoint: mailbox.url })).status).toBe(200);
  const madeUp = [0, 1, 2].map((i) => mailbox.mint(`madeup${i}.test`));
  const items = madeUp.map((identity, i) => {
    const body = JSON.stringify({
      token_sha256: randomBytes(32).toString('hex'), proof: randomBytes(32).toString('hex'), server_name: identity.serverName,
      endpoint: `https://${identity.serverName}:7447`, key_id: identity.keyId, public_key: identity.publicKeyHex, tls_fingerprint: null,
    });
    const at = Date.now();
    const headers = signRequestHeaders(identity, 'POST', PEERING_PATH, body, at, 'alpha.test');
    return { id: String(i + 1), from: identity.serverName, path: PEERING_PATH, key_id: identity.keyId, timestamp: String(at), signature: headers['X-Paracord-Signature']!, body };
  });
  let served = false;
  mailbox.routes.set(MAILBOX_PATH, () => {
    const page = served ? [] : items;
    served = true;
    return { status: 200, body: { items: page, cursor: '3' } };
  });
  const rows = (after: number) => queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM federation_request_replay WHERE origin LIKE 'madeup%' AND expires_at > ?", after)[0]!.n;
  // Each handed over and refused (its entry written), none kept for the week.
  await eventually(async () => expect(rows(0)).toBe(3));
  expect(rows(Date.now() + 86_400_000)).toBe(0);
});

it('a room host carrying its own new event through its mailbox: stored, and remembered as a direct request is, not for the week', async ({ nodes }) => {
  const host = await nodes.fakePeer('selfbox.test', { roomHost: true });
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'selfbox.test', endpoint: host.url })).status).toBe(200);
  const roomId = '!room:selfbox.test';
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === roomId);
  expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
  const event = makeEvent(host.identity, { room_id: roomId, depth: 50 });
  const body = envelopeWireJson(event);
  const at = Date.now();
  const headers = signRequestHeaders(host.identity, 'POST', EVENT_PATH, body, at, 'alpha.test');
  let served = false;
  host.routes.set(MAILBOX_PATH, () => {
    const page = served ? [] : [{ id: '1', from: 'selfbox.test', path: EVENT_PATH, key_id: host.identity.keyId, timestamp: String(at), signature: headers['X-Paracord-Signature']!, body }];
    served = true;
    return { status: 200, body: { items: page, cursor: '1' } };
  });
  await eventually(async () => expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', event.event_id)[0]!.n).toBe(1));
  const entry = () => queryNodeDb<{ expires_at: number }>(alpha.dataDir, 'SELECT expires_at FROM federation_request_replay WHERE signature = ?', headers['X-Paracord-Signature']!)[0];
  await eventually(async () => expect(entry()).toBeDefined());
  expect(entry()!.expires_at).toBeLessThan(Date.now() + 2 * 60_000);
});
