/**
 * A room's host that receives by pull refuses some of its members' events for good (a 4xx: a
 * removed member's message). Pushed, such a refusal marks the member's outbox entry failed and its
 * message "Not delivered: refused by …"; pulled, the host only logged it and acknowledged the page,
 * and the member's node deleted the entry as delivered: its user saw "✓ Delivered" for a message
 * the host refused (a helper's audit). Now the ack names the refused events (`POST /pull/ack
 * {cursor, refused}`, capability `pull_refusals`), and the member marks them failed.
 */
import { join } from 'node:path';
import { Identity } from '../main/core/identity/identity.ts';
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { deliveryOf, rowsFor } from './helpers/refused-entries.ts';
import { startPeered } from './helpers/node-process.ts';
import { hostPullingMember, pullingFrom } from './helpers/pull-friend.ts';
import { enc, eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { closedPort } from './helpers/closed-port.ts';
import { switchProxy } from './helpers/switch-proxy.ts';
import { KEYS_PATH } from '../main/core/federation/paths.ts';

const ACK = '/_paracord/federation/v1/pull/ack';


describe('pull mode: events the puller refuses', () => {
  it('a removed member\'s message that the pulling host refuses shows "not delivered: refused" on the member\'s node, not delivered', async ({ nodes }) => {
    const { alpha, beta, roomId } = await hostPullingMember(nodes, 'refusals');

    // alpha removes beta's user while its federation is paused (beta is not told yet), and beta's
    // user writes meanwhile: alpha refuses that message when it pulls it.
    expect((await alpha.admin('POST', '/federation/pause', {})).status).toBe(200);
    const removed = await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:beta.test')}/remove`, {});
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const eventId = await send(beta, roomId, 'after my removal');
    expect((await alpha.admin('POST', '/federation/resume', {})).status).toBe(200);

    // The page is taken and acknowledged: beta's entry leaves the waiting ones...
    await eventually(async () => expect(rowsFor(beta, 'alpha.test').filter((r) => r.event_id === eventId && r.state === 'pending')).toEqual([]), 60_000, 250);
    expect((await messages(alpha, roomId)).map((m) => m.body)).not.toContain('after my removal');
    // ...failed with alpha's refusal, in the words a pushed refusal gets, not deleted as delivered.
    const row = rowsFor(beta, 'alpha.test').find((r) => r.event_id === eventId);
    expect(row, 'beta keeps the entry alpha refused').toBeDefined();
    expect(row!.state).toBe('failed');
    expect(row!.last_error).toMatch(/^HTTP 403 (not_a_member|not_joined)$/);
    const queue = await beta.admin('GET', '/queue?state=failed&destination=alpha.test');
    expect(queue.body.entries.map((e: { event_id: string }) => e.event_id)).toContain(eventId);
    const delivery = await deliveryOf(beta, roomId, eventId);
    expect(delivery?.state).toBe('refused');
    expect(delivery?.refused).toEqual([{ server: 'alpha.test', reason: row!.last_error }]);
    // The message beta's user sent before is still delivered.
    const before = (await messages(beta, roomId)).find((m) => m.body === 'before');
    expect((await deliveryOf(beta, roomId, before.event_id))?.state).toBe('delivered');
  }, 180_000);

  it('an event the pulling host took too late (409 depth_too_old) is signed again and served again, an edit behind it too, five times at most; one it holds another version of (409 event_id_conflict) is delivered', async ({ nodes }) => {
    const { alpha, beta, roomId, restartAlpha } = await hostPullingMember(nodes, 'taken late');
    // A room beta hosts, with alpha's user: beta's events there are never beta's to sign again for alpha.
    const betaRoom = await roomWithMembers(beta, 'beta hosts', [[alpha, '@owner:alpha.test']]);
    const key = await Identity.open(join(alpha.dataDir, 'identity.json'));
    const pending = () => rowsFor(beta, 'alpha.test').filter((r) => r.state === 'pending');
    const signedAt = (id: string) => queryNodeDb<{ origin_ts: number }>(beta.dataDir, 'SELECT origin_ts FROM federation_events WHERE event_id = ?', id)[0]!.origin_ts;
    const tooOld = (event_id: string) => ({ event_id, status: 409, error: 'depth_too_old' });
    /** alpha's ack of beta's pending rows for it (all of them by default), naming `refused`. */
    const ack = async (refused: unknown[], cursor = Math.max(...pending().map((r) => r.id))) => {
      const acked = await sendSigned(key, beta.federationUrl, 'POST', ACK, JSON.stringify({ cursor: String(cursor), refused }));
      expect(acked.status, JSON.stringify(acked.body)).toBe(200);
      return { cursor, body: acked.body };
    };

    // Refused as too old: a message (with an edit behind it, refused for its absence, and another
    // edit after the ack's cursor), a message of the room beta hosts (not re-issued: failed); one
    // held there in another version (delivered).
    expect(await alpha.stop()).toBe(0);
    await eventually(async () => expect(pending()).toEqual([]));
    const late = await send(beta, roomId, 'taken late once');
    expect((await beta.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(late)}`, { body: 'taken late once, edited' })).status).toBe(200);
    const other = await send(beta, roomId, 'held there in another version');
    const notAlphas = await send(beta, betaRoom, 'in a room alpha does not host');
    const edit = pending().map((r) => r.event_id).find((id) => ![late, other, notAlphas].includes(id))!;
    const cursor = Math.max(...pending().map((r) => r.id));
    expect((await beta.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(late)}`, { body: 'taken late once, edited twice' })).status).toBe(200);
    const edit2 = pending().find((r) => r.id > cursor)!.event_id;
    const lateSigned = signedAt(late);
    const first = await ack([tooOld(late), { event_id: edit, status: 404, error: 'unknown_event' }, { event_id: other, status: 409, error: 'event_id_conflict' }, tooOld(notAlphas)], cursor);
    expect(first.body).toEqual({ acknowledged: 1, refused: 1, sent_again: 3 });
    expect(pending().map((r) => r.event_id)).toEqual([late, edit, edit2]);
    expect(Math.min(...pending().map((r) => r.id))).toBeGreaterThan(first.cursor);
    expect(signedAt(late)).toBeGreaterThan(lateSigned);
    expect(rowsFor(beta, 'alpha.test').filter((r) => r.event_id === notAlphas).map((r) => [r.state, r.last_error])).toEqual([['failed', 'HTTP 409 depth_too_old']]);
    expect((await deliveryOf(beta, roomId, other))?.state).toBe('delivered');
    // What a pull now serves is the copy signed again.
    const served = await sendSigned(key, beta.federationUrl, 'GET', `/_paracord/federation/v1/pull?cursor=${first.cursor}&limit=10`);
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect((served.body.events as Array<{ event_id: string; origin_ts: number }>).map((e) => [e.event_id, e.origin_ts])).toEqual([late, edit, edit2].map((id) => [id, signedAt(id)]));
    // Back, the host pulls them and takes them.
    await restartAlpha();
    await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('taken late once, edited twice'), 30_000, 250);
    await eventually(async () => expect((await deliveryOf(beta, roomId, late))?.state).toBe('delivered'), 30_000, 250);

    // A host that says so every time: signed again five times, then failed with its refusal.
    expect(await alpha.stop()).toBe(0);
    await eventually(async () => expect(pending()).toEqual([]));
    const stubborn = await send(beta, roomId, 'refused as too old again and again');
    for (let round = 1; round <= 6; round++) {
      const signed = signedAt(stubborn);
      const { body } = await ack([tooOld(stubborn)]);
      expect(body, `round ${round}`).toEqual(round <= 5 ? { acknowledged: 0, refused: 0, sent_again: 1 } : { acknowledged: 0, refused: 1 });
      if (round <= 5) expect(signedAt(stubborn)).toBeGreaterThan(signed);
    }
    expect(rowsFor(beta, 'alpha.test').filter((r) => r.event_id === stubborn).map((r) => [r.state, r.last_error])).toEqual([['failed', 'HTTP 409 depth_too_old']]);
  }, 180_000);

  it('an event the pulling host could not check for its whole window is named in the ack as given up unchecked: its sender shows it not delivered, in those words', async ({ nodes }) => {
    // beta's keys, as alpha reads them, fail while keysDown (a proxy between them: any network problem).
    const state = { keysDown: false, keysRefused: 0 };
    const beta = await nodes.inProcess('beta.test', { config: { retryInitialMs: 200, retryMaxMs: 1_000 } });
    const toBeta = await switchProxy(beta.started.federation_url!, (req) => {
      if (!state.keysDown || req.url?.split('?')[0] !== KEYS_PATH) return null;
      state.keysRefused++;
      return { status: 500, body: '{"error":"internal_error","message":"down"}' };
    });
    try {
      // alpha gives an event it cannot check up after 3 s (2 h by default).
      const config = { pullUncheckedForMs: 3_000 };
      const first = await nodes.inProcess('alpha.test', { config });
      expect((await first.admin('POST', '/peers', { server_name: 'beta.test', endpoint: toBeta.url })).status).toBe(200);
      expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: first.started.federation_url })).status).toBe(200);
      const roomId = await roomWithMembers(first, 'unchecked', [[beta, '@owner:beta.test']]);
      // alpha, the room's host, becomes a node nobody can reach: it takes beta's events by pull.
      const status = (await first.admin('GET', '/status')).body as { key_id: string; public_key: string };
      await first.node.stop();
      const closed = `http://127.0.0.1:${await closedPort()}`;
      const readded = await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key, replace: true });
      expect(readded.status, JSON.stringify(readded.body)).toBe(200);
      const alpha = await nodes.inProcess('alpha.test', { dataDir: first.dataDir, config: { ...config, pull: true } });
      const before = await send(beta, roomId, 'before');
      await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(before), 30_000);

      // beta rotates its key while alpha cannot read beta's keys, and writes.
      state.keysDown = true;
      const rotated = await beta.admin('POST', '/keys/rotate');
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
      const eventId = await send(beta, roomId, 'signed with a key alpha cannot read');
      // alpha tries (its page asked again) for its window, gives the event up, and names it in its ack:
      // beta marks the entry failed with those words, not delivered.
      await eventually(async () => expect(rowsFor(beta, 'alpha.test').filter((r) => r.event_id === eventId)).toEqual([expect.objectContaining({ state: 'failed', last_error: 'HTTP 403 unchecked_given_up' })]), 60_000, 250);
      expect(state.keysRefused).toBeGreaterThan(0);
      expect((await messages(alpha, roomId)).map((m) => m.event_id)).not.toContain(eventId);
      const delivery = await deliveryOf(beta, roomId, eventId);
      expect(delivery?.state).toBe('refused');
      expect(delivery?.refused).toEqual([{ server: 'alpha.test', reason: 'HTTP 403 unchecked_given_up' }]);
      expect((await deliveryOf(beta, roomId, before))?.state).toBe('delivered');
    } finally {
      toBeta.close();
    }
  }, 120_000);

  it('bad `refused` in POST /pull/ack gets a clear 400 and changes nothing; a good one fails only the caller\'s rows it names', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'alpha.test' });
    const beta = nodes.process({ serverName: 'beta.test' });
    const gamma = nodes.process({ serverName: 'gamma.test' });
    await startPeered([alpha, beta, gamma]);
    const roomId = await roomWithMembers(alpha, 'acks', [[beta, '@owner:beta.test'], [gamma, '@owner:gamma.test']]);
    await pullingFrom(alpha, beta);
    await beta.stop();
    await gamma.stop();
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push(await send(alpha, roomId, `kept ${i}`));
    const before = rowsFor(alpha, 'beta.test');
    const shape = (rows: ReturnType<typeof rowsFor>) => rows.map((r) => [r.id, r.event_id, r.state]);
    expect(before.filter((r) => r.state === 'pending')).toHaveLength(3);
    const key = await Identity.open(join(beta.dataDir, 'identity.json'));
    const cursor = String(before[before.length - 1]!.id);
    const refusal = { event_id: sent[0], status: 403, error: 'not_member' };
    const bad: unknown[] = [
      'no',
      [{ ...refusal, status: 500 }],
      [{ ...refusal, status: 399 }],
      [{ ...refusal, status: '403' }],
      [{ ...refusal, error: 'Not Member' }],
      [{ ...refusal, error: 'x'.repeat(65) }],
      [{ ...refusal, error: 'HTTP 403: <script>' }],
      [{ ...refusal, event_id: '' }],
      [{ ...refusal, event_id: `$${'e'.repeat(255)}` }],
      [{ ...refusal, message: 'words' }],
      [{ event_id: sent[0], status: 403 }],
      Array.from({ length: 1_001 }, () => refusal),
    ];
    const cases: Array<[string, string]> = bad.map((refused) => [JSON.stringify({ cursor, refused }), 'invalid_request']);
    // Not an integer: refused as the body is read (every federation body's numbers are).
    cases.push([JSON.stringify({ cursor, refused: [{ ...refusal, status: 403.5 }] }), 'invalid_number']);
    for (const [body, error] of cases) {
      const response = await sendSigned(key, alpha.federationUrl, 'POST', ACK, body);
      expect(response.status, body.slice(0, 200)).toBe(400);
      expect(response.body, body.slice(0, 200)).toMatchObject({ error });
      expect(typeof response.body.message).toBe('string');
    }
    expect(shape(rowsFor(alpha, 'beta.test'))).toEqual(shape(before));
    // A caller the owner quarantines is served nothing: nor does its ack settle anything.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine', reason: 'checking' })).status).toBe(200);
    const quarantined = await sendSigned(key, alpha.federationUrl, 'POST', ACK, JSON.stringify({ cursor }));
    expect([quarantined.status, quarantined.body.error]).toEqual([403, 'origin_quarantined']);
    expect(shape(rowsFor(alpha, 'beta.test'))).toEqual(shape(before));
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);

    // A good one: the named row of the caller's fails with the refusal; an id not among its rows up
    // to the cursor (gamma's copy of the same event, an unknown one) is ignored; the rest are delivered.
    const gammaBefore = shape(rowsFor(alpha, 'gamma.test'));
    expect(gammaBefore).toHaveLength(3);
    const body = JSON.stringify({ cursor, refused: [refusal, { event_id: '$unknown', status: 404, error: 'unknown_event' }] });
    const acked = await sendSigned(key, alpha.federationUrl, 'POST', ACK, body);
    expect(acked.status, JSON.stringify(acked.body)).toBe(200);
    expect(acked.body).toEqual({ acknowledged: 2, refused: 1 });
    expect(rowsFor(alpha, 'beta.test').map((r) => [r.event_id, r.state, r.last_error])).toEqual([[sent[0], 'failed', 'HTTP 403 not_member']]);
    expect(shape(rowsFor(alpha, 'gamma.test'))).toEqual(gammaBefore);
    // The owner may send it again (a fresh entry, after every cursor acknowledged).
    const failedId = rowsFor(alpha, 'beta.test')[0]!.id;
    const retried = await alpha.admin('POST', `/queue/${failedId}/retry`, {});
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(rowsFor(alpha, 'beta.test').map((r) => [r.event_id, r.state])).toEqual([[sent[0], 'pending']]);
    // Advertised, so pullers send the field (an older node's strict schema answers 400 to it).
    const discovery = await fetch(`${alpha.federationUrl}/.well-known/paracord/server`).then((r) => r.json() as Promise<{ capabilities: string[] }>);
    expect(discovery.capabilities).toContain('pull_refusals');
  }, 180_000);

  it('the puller names its refusals only to a peer that advertises pull_refusals; an older one gets the plain {cursor}', async ({ nodes }) => {
    const node = await nodes.inProcess('puller.test', { config: { pull: true }, graceMs: 1_000 });
    /** A friend serving one page of two events the puller refuses (400 invalid_event), then nothing; its acks' bodies. */
    const friend = async (name: string, capabilities: string[]) => {
      const fake: FakePeer = await nodes.fakePeer(name);
      fake.capabilities.push(...capabilities);
      const acks: unknown[] = [];
      fake.routes.set('/_paracord/federation/v1/pull', (url) => {
        const cursor = Number(url.searchParams.get('cursor') ?? '0');
        if (cursor >= 2) return { status: 200, body: { events: [], cursor: String(cursor) } };
        return { status: 200, body: { events: [1, 2].map((i) => ({ event_id: `$bad${i}:${name}`, junk: true })), cursor: '2' } };
      });
      fake.routes.set('/_paracord/federation/v1/pull/ack', (_url, body) => {
        acks.push(JSON.parse(body));
        return { status: 200, body: { acknowledged: 2 } };
      });
      const added = await node.admin('POST', '/peers', { server_name: name, endpoint: fake.url });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      return acks;
    };
    const newer = await friend('newer.test', ['pull_refusals']);
    const older = await friend('older.test', []);
    await eventually(async () => {
      expect(newer.length).toBeGreaterThan(0);
      expect(older.length).toBeGreaterThan(0);
    }, 30_000, 100);
    expect(newer[0]).toEqual({ cursor: '2', refused: [1, 2].map((i) => ({ event_id: `$bad${i}:newer.test`, status: 400, error: 'invalid_event' })) });
    expect(older[0]).toEqual({ cursor: '2' });
  }, 60_000);

  it('refusals of a stored page survive a SIGKILL before its ack: the first ack after the restart names them', async ({ nodes }) => {
    const puller = nodes.process({ serverName: 'puller.test' });
    await puller.start(['--pull']);
    const friend: FakePeer = await nodes.fakePeer('friend.test');
    friend.capabilities.push('pull_refusals');
    friend.routes.set('/_paracord/federation/v1/pull', (url) => {
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      if (cursor >= 2) return { status: 200, body: { events: [], cursor: String(cursor) } };
      return { status: 200, body: { events: [1, 2].map((i) => ({ event_id: `$bad${i}:friend.test`, junk: true })), cursor: '2' } };
    });
    // Its acks fail until the puller was killed: the refusals are noted, not yet acknowledged.
    let acksWork = false;
    const acks: Array<{ body: unknown; answered: number }> = [];
    friend.routes.set('/_paracord/federation/v1/pull/ack', (_url, body) => {
      const answered = acksWork ? 200 : 503;
      acks.push({ body: JSON.parse(body), answered });
      return answered === 200 ? { status: 200, body: { acknowledged: 2 } } : { status: 503, body: { error: 'storage_failed', message: 'not now' } };
    });
    const added = await puller.admin('POST', '/peers', { server_name: 'friend.test', endpoint: friend.url });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const cursor = () => queryNodeDb<{ cursor: number }>(puller.dataDir, "SELECT cursor FROM pull_sources WHERE server_name = 'friend.test'")[0]?.cursor;
    // The page is stored (its cursor saved) and its ack was tried (and failed).
    await eventually(async () => {
      expect(cursor()).toBe(2);
      expect(acks.length).toBeGreaterThan(0);
    }, 30_000, 50);
    expect(acks[0]!.body).toMatchObject({ cursor: '2', refused: [{ event_id: '$bad1:friend.test' }, { event_id: '$bad2:friend.test' }] });

    // Killed between the page and its ack; the friend takes acks again; the puller starts again.
    await puller.stop('SIGKILL');
    acksWork = true;
    await puller.start(['--pull']);
    await eventually(async () => expect(acks.some((a) => a.answered === 200)).toBe(true), 30_000, 50);
    // The first ack the friend took names the refusals: it marks those events failed, not delivered.
    const refused = [1, 2].map((i) => ({ event_id: `$bad${i}:friend.test`, status: 400, error: 'invalid_event' }));
    expect(acks.find((a) => a.answered === 200)!.body).toEqual({ cursor: '2', refused });
    // Once acknowledged, they are not sent again.
    await new Promise((r) => setTimeout(r, 1_500));
    for (const later of acks.filter((a) => a.answered === 200).slice(1)) expect(later.body).toEqual({ cursor: '2' });
  }, 90_000);
});
