/**
 * A pulled page, or a page fetched from a mailbox, is acknowledged durably: the peer deletes what
 * it kept for us only on an ack, so an ack that failed is sent again even when no page follows
 * (federation/page-acks.ts). The mailbox fetcher sent each page's ack once and counted on the next
 * page's to cover a lost one: with nothing more to fetch, the mailbox kept the page for good.
 */
import { expect, it } from './helpers/fixtures.ts';
import { EVENTS_PATH, MAILBOX_ACK_PATH, MAILBOX_PATH, PULL_ACK_PATH, PULL_PATH } from '../main/core/federation/paths.ts';
import { eventually } from './helpers/rooms.ts';

const sources = [
  // A page with one event this node refuses (a refusal is final: the page is taken).
  { name: 'pull', page: PULL_PATH, ack: PULL_ACK_PATH, first: { events: [{ not: 'an event' }], cursor: '1' }, empty: { events: [], cursor: '1' } },
  // A page with one carried request whose signature is wrong (refused here, final: taken).
  {
    name: 'mailbox', page: MAILBOX_PATH, ack: MAILBOX_ACK_PATH,
    first: { items: [{ id: '1', from: 'box.test', path: EVENTS_PATH, key_id: 'ed25519:a', timestamp: String(Date.now()), signature: '0'.repeat(128), body: '{"events":[]}' }], cursor: '1' },
    empty: { items: [], cursor: '1' },
  },
];

it.for(sources)('$name: an ack the peer failed is sent again though no page follows', async (source, { nodes }) => {
  const box = await nodes.fakePeer('box.test');
  let served = false;
  const acks: string[] = [];
  box.routes.set(source.page, () => {
    const page = served ? source.empty : source.first;
    served = true;
    return { status: 200, body: page };
  });
  box.routes.set(source.ack, () => (acks.push('ack') === 1 ? { status: 503, body: { error: 'unavailable', message: 'busy' } } : { status: 200, body: {} }));
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'box.test', endpoint: box.url })).status).toBe(200);
  await eventually(async () => expect(acks).toHaveLength(2), 10_000, 50);
  // Once answered, it is not sent again.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(acks).toHaveLength(2);
});
