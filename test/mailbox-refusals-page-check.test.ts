/**
 * The recipient's check of a mailbox's page (mailbox/fetcher.ts, capability `mailbox_refusals`,
 * docs/PROTOCOL.md "Mailboxes"): a page naming an item after its own cursor is refused whole.
 * Taken, that item's refusals would be kept with the page's cursor and named in an ack up to it,
 * which a mailbox refuses (400 `unknown_item`: an item after the cursor) or, acks going only up to
 * a cursor, never takes: they would linger. beta is a real node in this process (real HTTP on
 * 127.0.0.1, real SQLite) receiving by pull; carol, the mailbox, is a fake federation server
 * serving the page the test says, and alpha, the depositor, a fake one signing its own request.
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually } from './helpers/rooms.ts';
import { signRequestHeaders } from '../main/core/federation/request-signature.ts';

const FED = '/_paracord/federation/v1';

describe('a mailbox page naming an item after its own cursor', () => {
  it('is refused whole: nothing of it is handed over, kept or acknowledged; the same item under a cursor that covers it is taken, and its refusal named in the ack', async ({ nodes }) => {
    const beta = await nodes.inProcess('beta.test', { config: { pull: true, reachabilityWatchSeconds: 0 } });
    const alpha = await nodes.fakePeer('alpha.test');
    const carol = await nodes.fakePeer('carol.test');
    carol.capabilities.push('mailbox', 'mailbox_refusals');
    // alpha's event push to beta, as alpha signed it (bound to beta), left at carol as item 5: an
    // event beta refuses for good (it is no event envelope).
    const eventId = '$junk:alpha.test';
    const body = JSON.stringify({ event_id: eventId, junk: true });
    const inner = signRequestHeaders(alpha.identity, 'POST', `${FED}/event`, Buffer.from(body), Date.now(), 'beta.test');
    const item = { id: '5', from: 'alpha.test', path: `${FED}/event`, key_id: inner['X-Paracord-Key-Id'], timestamp: inner['X-Paracord-Timestamp'], signature: inner['X-Paracord-Signature'], body };
    let pageCursor = '4';
    let badPages = 0;
    carol.routes.set(`${FED}/mailbox`, (url) => {
      if (Number(url.searchParams.get('cursor') || '0') >= 5) return { status: 200, body: { items: [], cursor: '5' } };
      if (pageCursor === '4') badPages++;
      return { status: 200, body: { items: [item], cursor: pageCursor } };
    });
    const acks: unknown[] = [];
    carol.routes.set(`${FED}/mailbox/ack`, (_url, text) => {
      acks.push(JSON.parse(text));
      return { status: 200, body: { acknowledged: 1, refused: 1 } };
    });
    for (const peer of [alpha, carol]) expect((await beta.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url })).status).toBe(200);

    // Item 5 under cursor 4: refused whole, asked again (after a pause), and again refused.
    await eventually(async () => expect(badPages).toBeGreaterThanOrEqual(2), 30_000, 100);
    const source = () => queryNodeDb<{ cursor: number; last_error: string | null }>(beta.dataDir, "SELECT cursor, last_error FROM mailbox_sources WHERE server_name = 'carol.test'")[0];
    expect(source()).toMatchObject({ cursor: 0, last_error: expect.stringMatching(/not \{items, cursor\}/) });
    expect(acks).toEqual([]);
    expect(queryNodeDb(beta.dataDir, 'SELECT * FROM mailbox_refusals_out')).toEqual([]);

    // The same item under cursor 5: taken, refused here, and named in the ack up to 5.
    pageCursor = '5';
    await eventually(async () => expect(acks.length).toBeGreaterThan(0), 30_000, 100);
    expect(acks[0]).toEqual({ cursor: '5', refused: [{ id: '5', event_id: eventId, status: expect.any(Number), error: expect.stringMatching(/^[a-z_]+$/) }] });
    expect(source()).toMatchObject({ cursor: 5, last_error: null });
  }, 60_000);
});
