/**
 * What starts a reachability self-test besides the node's own watch, with two or three real nodes
 * in this process and real HTTP probes.
 * - A peer's report that its deliveries to this node fail (the `X-Paracord-Delivery-Failing`
 *   answer header; test/reachability.test.ts follows one end to end) starts a test through that
 *   peer, at most once per gap. A report that comes while a test runs, or within the gap, is
 *   tested when those end: dropped, it could be the last for a long while (the header comes only
 *   with answers to this node's own requests), and the node would wait for pushes that cannot
 *   reach it until its routine test half an hour later.
 * - The owner's "Test now" while a test is under way: that test began before the owner asked
 *   (before a fix of theirs, say), so a new one runs after it and answers.
 * - A failure's confirmation whose time comes while a test through one named peer runs joins that
 *   test; when it gets no verdict, the confirmation is scheduled again (it was left without a timer:
 *   the node waited for pushes that could not reach it, never switching to pull mode).
 */
import { pino } from 'pino';
import { expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { eventually } from './helpers/rooms.ts';
import { REACH_PROBE_PATH } from '../main/core/federation/paths.ts';

const nameOf = (n: InProcessNode) => n.node.context.identity()!.serverName;

/**
 * beta, which tests itself on its own never (watch 0) and for a report at most every `gapSeconds`,
 * peered with alpha, which answers one probe per `probeSeconds`; beta's log lines.
 */
async function reportedPair(nodes: Nodes, probeSeconds: number, gapSeconds: number) {
  const logged: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const alpha = await nodes.inProcess('alpha.test', { config: { reachProbeIntervalSeconds: probeSeconds } });
  const beta = await nodes.inProcess('beta.test', { log, config: { reachabilityWatchSeconds: 0, reachabilityReportGapSeconds: gapSeconds } });
  for (const [a, b] of [[alpha, beta], [beta, alpha]] as const) {
    expect((await a.admin('POST', '/peers', { server_name: nameOf(b), endpoint: b.started.federation_url })).status).toBe(200);
  }
  return { logged, beta, reachability: beta.node.context.running()!.reachability };
}

it('a report that comes while a test runs, or within the gap after the last, is tested once those end', async ({ nodes }: { nodes: Nodes }) => {
  // alpha answers a probe every second; a report is tested at most every 2 s.
  const { logged, beta, reachability } = await reportedPair(nodes, 1, 2);
  const tested = () => logged.filter((l) => l.event === 'reachability_checked' && l.via === 'alpha.test').length;
  const reports = () => logged.filter((l) => l.event === 'peer_reports_delivery_failing').length;

  reachability.peerReportsFailing('alpha.test');
  await new Promise((resolve) => setTimeout(resolve, 20));
  // The first report's test is under way: this one waits for it, then for the gap.
  reachability.peerReportsFailing('alpha.test');
  await eventually(async () => expect(tested()).toBe(1), 10_000);
  expect(reports()).toBe(1);
  await eventually(async () => expect(tested()).toBe(2), 10_000);
  expect(reports()).toBe(2);
  const [first, second] = logged.filter((l) => l.event === 'peer_reports_delivery_failing').map((l) => Number(l.time));
  expect(second! - first!).toBeGreaterThanOrEqual(2_000);

  // One within the gap after that test, nothing running: tested once the gap is over.
  reachability.peerReportsFailing('alpha.test');
  await eventually(async () => expect(tested()).toBe(3), 10_000);
  expect(reports()).toBe(3);
  // Answered tests leave nothing pending: no test more.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  expect(tested()).toBe(3);
  expect((await beta.admin('GET', '/reachability')).body).toMatchObject({ reachable: true, via: 'alpha.test' });
}, 40_000);

it('"Test now" while a test is under way runs a new test after it, and answers with that one', async ({ nodes }: { nodes: Nodes }) => {
  // Both peers answer one probe per 30 s (the default): the new test is answered by the one not asked yet.
  const alpha = await nodes.inProcess('alpha.test');
  const gamma = await nodes.inProcess('gamma.test');
  const beta = await nodes.inProcess('beta.test', { config: { reachabilityWatchSeconds: 0 } });
  for (const [a, b] of [[alpha, beta], [beta, alpha], [gamma, beta], [beta, gamma]] as const) {
    expect((await a.admin('POST', '/peers', { server_name: nameOf(b), endpoint: b.started.federation_url })).status).toBe(200);
  }
  const reachability = beta.node.context.running()!.reachability;
  // A test starts (the node's watch, a report); the owner asks while it runs.
  const under = reachability.check();
  const asked = await reachability.requested();
  const earlier = await under;
  expect(earlier.reachable).toBe(true);
  expect(asked.reachable).toBe(true);
  // Another probe, after the first: the peer asked first refuses a second within 30 s, the other answers.
  expect(asked.via).not.toBe(earlier.via);
  expect(asked.checked_at!).toBeGreaterThanOrEqual(earlier.checked_at!);
}, 40_000);

it('a report whose test the reporter refused (its probe limit) is tested once more after it, not left to the routine test', async ({ nodes }: { nodes: Nodes }) => {
  // alpha answers one probe per 5 s; a report is tested at most every 6 s.
  const { logged, reachability } = await reportedPair(nodes, 5, 6);
  const checked = () => logged.filter((l) => l.event === 'reachability_checked');
  // The owner's test through alpha; alpha's report right after it: its probe is refused (429).
  expect((await reachability.requested('alpha.test')).reachable).toBe(true);
  reachability.peerReportsFailing('alpha.test');
  await eventually(async () => expect(checked().length).toBe(2), 10_000);
  expect(checked()[1]).toMatchObject({ reachable: null });
  // Tested again once the gap is over: alpha answers.
  await eventually(async () => expect(checked().length).toBe(3), 10_000);
  expect(checked()[2]).toMatchObject({ reachable: true, via: 'alpha.test' });
  expect(logged.filter((l) => l.event === 'peer_reports_delivery_failing')).toHaveLength(2);
  // A server that is not a peer of ours (the header comes with any answer) starts nothing.
  reachability.peerReportsFailing('stranger.test');
  await new Promise((resolve) => setTimeout(resolve, 7_000));
  expect(checked()).toHaveLength(3);
}, 40_000);

it('a confirmation whose time comes during a test through one named peer that gets no verdict is scheduled again, and confirms', async ({ nodes }: { nodes: Nodes }) => {
  // fail.test answers every probe "not reachable"; slow.test's first probe hangs (until its connections drop), later ones are refused by its limit.
  const beta = await nodes.inProcess('beta.test', { config: { reachabilityWatchSeconds: 0, reachabilityConfirmSeconds: 1 } });
  const fail = await nodes.fakePeer('fail.test');
  const slow = await nodes.fakePeer('slow.test');
  fail.routes.set(REACH_PROBE_PATH, () => ({ status: 200, body: { reachable: false, status: 'refused', error: 'connect ECONNREFUSED' } }));
  let slowProbes = 0;
  slow.routes.set(REACH_PROBE_PATH, () => (slowProbes++ === 0 ? 'hang' : { status: 429, body: { error: 'rate_limited', message: 'one probe per 30 s' } }));
  for (const peer of [fail, slow]) expect((await beta.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url })).status).toBe(200);
  const reachability = beta.node.context.running()!.reachability;
  // A failure, to be confirmed 1 s later: the node says when (the error's "in N s" does not count down).
  const failedAt = Date.now();
  expect((await reachability.check('fail.test')).reachable).toBe(false);
  expect(reachability.mode).toBe('push');
  const waiting = (await beta.admin('GET', '/reachability')).body as { next_test_at?: number };
  expect(waiting.next_test_at).toBeGreaterThanOrEqual(failedAt + 1_000);
  expect(waiting.next_test_at).toBeLessThanOrEqual(Date.now() + 1_000);
  // A test through slow.test (a report, the owner's choice) that hangs past the confirmation's time: the confirmation joins it.
  const named = reachability.check('slow.test');
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  slow.dropConnections();
  expect((await named).reachable).toBeNull();
  // No verdict: the confirmation is scheduled again (it was left without a timer), asks the others first, and confirms.
  await eventually(async () => expect((await beta.admin('GET', '/reachability')).body.mode).toBe('pull'), 10_000);
  expect(slowProbes).toBe(2);
  expect((await beta.admin('GET', '/reachability')).body).not.toHaveProperty('next_test_at');
}, 30_000);
