/**
 * Red team (the class of issue #14 item 15: a loop a peer can spin), found 2026-11-26: a node
 * pulling from a peer (pull mode, mailbox fetches) asked for the next page as soon as an empty
 * one came back. An honest peer holds an empty answer until something comes (25 s); a peer that
 * answers empty pages at once got a signed request, a signature and a database write as fast as
 * the network allowed, for as long as it liked.
 * Now: after an empty page (its cursor moved or not), the next ask waits until
 * MIN_EMPTY_PAGE_GAP_MS (500 ms) after the last one was made; an honest long poll is never slowed
 * (its answer comes later than that).
 */
import { expect, it } from '../helpers/fixtures.ts';
import { PULL_PATH } from '../../main/core/federation/paths.ts';
import { MIN_EMPTY_PAGE_GAP_MS } from '../../main/core/federation/signed-page-loop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let moved = 0;
const cursors: Array<[string, () => string]> = [
  ['the same cursor', () => '0'],
  ['a cursor that moves', () => String(++moved)],
];

it.for(cursors)('a peer answering empty pull pages at once, with %s, is asked about twice a second, not as fast as it answers', async ([, cursor], { nodes }) => {
  const eager = await nodes.fakePeer('eager.test');
  eager.routes.set(PULL_PATH, () => ({ status: 200, body: { events: [], cursor: cursor() } }));
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true } });
  expect((await alpha.admin('POST', '/peers', { server_name: 'eager.test', endpoint: eager.url })).status).toBe(200);
  const asked = () => eager.requests.filter((path) => path === PULL_PATH).length;
  // Pulling has begun…
  for (let i = 0; i < 100 && asked() === 0; i++) await sleep(50);
  expect(asked()).toBeGreaterThan(0);
  // …and over three seconds it asks about once per gap (+1: the page in flight). An empty page
  // with a new cursor is not asked ahead of (it was, and let two asks through each gap).
  // The bound follows the time that really passed (a busy machine sleeps longer than asked).
  const before = asked();
  const started = performance.now();
  await sleep(3_000);
  const elapsed = performance.now() - started;
  const during = asked() - before;
  expect(during).toBeLessThanOrEqual(Math.floor(elapsed / MIN_EMPTY_PAGE_GAP_MS) + 1);
  expect(during).toBeGreaterThan(0);
});
