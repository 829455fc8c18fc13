import { describe, expect, it } from 'vitest';
import { ONLINE_WINDOW_MS, PULL_LATE_MS, peerLine, waitingWords } from './peer-state.ts';

/** Nothing waits: the node's `delivery` of a peer it pushes to. */
const push = { mode: 'push' as const, last_pull_at: null, waiting: 0, retrying_since: null, next_attempt_at: null, last_error: null };

describe('peerLine', () => {
  it('calls an offline peer offline, in words, with what waits and when the next try is', () => {
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const since = new Date(2026, 0, 5, 14, 2).getTime();
    // 12 messages wait, each tried 3 times, the oldest queued at 14:02 (as the node's PeerView says it).
    const delivery = { ...push, waiting: 12, retrying_since: since, next_attempt_at: now + 40_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    const line = peerLine({ trust: 'allow', last_seen_at: since - 1000, delivery }, now);
    expect(line.state).toBe('offline');
    expect(line.text).toMatch(/^Offline since \d\d:\d\d( [AP]M)? — 12 messages waiting, next try in 40 s$/);
    expect(line.cause.text).toBe('Their server is offline (it refused the connection).');
    expect(line.cause.details).toContain('ECONNREFUSED');
  });

  it('calls a peer that answers with an error it may get over (paused, our clocks, a 5xx) there but refusing, not offline', () => {
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const since = new Date(2026, 0, 5, 14, 2).getTime();
    const paused = { ...push, waiting: 2, retrying_since: since, next_attempt_at: now + 40_000, last_error: 'HTTP 503 federation_paused: federation is paused on this node' };
    const line = peerLine({ trust: 'allow', last_seen_at: since - 1000, delivery: paused }, now);
    expect(line.state).toBe('refusing');
    expect(line.text).toMatch(/^Answers with an error since \d\d:\d\d( [AP]M)? — 2 messages waiting, next try in 40 s$/);
    expect(line.cause.text).toBe('The other server has paused all sending and receiving. It retries by itself.');
    // Its rate limit, or its keys check: asked to wait, as before; no answer at all: offline.
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...paused, last_error: 'HTTP 429 rate_limited: slow down' } }, now).state).toBe('sending');
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...paused, last_error: 'connect ECONNREFUSED 127.0.0.1:9' } }, now).state).toBe('offline');
  });

  it('does not take a friend\'s mailbox\'s answer for the peer\'s own: the peer is offline, the mailbox paused or full (note 64)', () => {
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const since = new Date(2026, 0, 5, 14, 2).getTime();
    const atMailbox = { ...push, waiting: 2, retrying_since: since, next_attempt_at: now + 40_000, last_error: 'the mailbox at carol.test answered HTTP 503 federation_paused: federation is paused on this node' };
    const line = peerLine({ trust: 'allow', last_seen_at: since - 1000, delivery: atMailbox }, now);
    expect(line.state).toBe('offline');
    expect(line.text).toMatch(/^Offline since /);
    expect(line.cause.text).toBe('The mailbox at carol.test has paused all sending and receiving. It retries by itself.');
    // The mailbox's 429 (full): not beta asking us to wait.
    const full = peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...atMailbox, last_error: 'the mailbox at carol.test answered HTTP 429 mailbox_full: carol.test holds as much as it takes' } }, now);
    expect(full.state).toBe('offline');
    expect(full.cause.text).toMatch(/^The mailbox at carol\.test /);
    // While pushes go to that mailbox: not "being left there" when it does not take them.
    const through = peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...atMailbox, via_mailbox: 'carol.test' } }, now);
    expect(through.state).toBe('waiting');
    expect(through.text).toMatch(/^Through carol\.test's mailbox — 2 messages waiting: the mailbox has not taken them since \d\d:\d\d( [AP]M)?, next try in 40 s$/);
    expect(through.cause.text).toBe('The mailbox at carol.test has paused all sending and receiving. It retries by itself.');
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...atMailbox, via_mailbox: 'carol.test', last_error: null, retrying_since: null } }, now).text).toBe("Through carol.test's mailbox — 2 messages being left there");
  });

  it('says what waits for a peer waits for this node to resume federation while it is paused', () => {
    const now = Date.now();
    const failing = { ...push, waiting: 3, retrying_since: now - 60_000, next_attempt_at: now, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: failing }, now, { paused: true })).toEqual({ state: 'paused', text: 'Paused here — 3 messages waiting until you resume federation', cause: { text: '', details: '' } });
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: { ...push, waiting: 1 } }, now, { paused: true }).text).toBe('Paused here — 1 message waiting until you resume federation');
    // Nothing waiting: as before; blocked: blocked.
    expect(peerLine({ trust: 'allow', last_seen_at: now, delivery: push }, now, { paused: true }).state).toBe('online');
    expect(peerLine({ trust: 'block', last_seen_at: null, delivery: failing }, now, { paused: true }).state).toBe('blocked');
  });

  it('calls what waits messages only when they are: reactions and edits are changes (the UI check of 2026-11-27)', () => {
    expect(waitingWords(3, 3)).toBe('3 messages');
    expect(waitingWords(3, 2)).toBe('2 messages and 1 change');
    expect(waitingWords(1, 0)).toBe('1 change');
    expect(waitingWords(10, 0)).toBe('10 changes');
    expect(waitingWords(1200, null)).toBe('1200 messages and changes');
    // A node that does not tell them apart (before 2026-11-27): as it said.
    expect(waitingWords(12, undefined)).toBe('12 messages');
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const delivery = { ...push, waiting: 10, waiting_messages: 1, retrying_since: now - 60_000, next_attempt_at: now + 40_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery }, now).text).toMatch(/— 1 message and 9 changes waiting, next try in 40 s$/);
    expect(peerLine({ trust: 'block', last_seen_at: null, delivery }, now).text).toBe('Blocked: nothing is sent to or taken from this server — 1 message and 9 changes held until you allow it');
  });

  it('says online when nothing waits and it was heard from recently, and blocked when blocked', () => {
    const now = Date.now();
    expect(peerLine({ trust: 'allow', last_seen_at: now - 30_000 }, now)).toMatchObject({ state: 'online', text: 'Online · seen 30 s ago' });
    expect(peerLine({ trust: 'allow', last_seen_at: now - ONLINE_WINDOW_MS }, now).state).toBe('online');
    expect(peerLine({ trust: 'block', last_seen_at: null }, now).state).toBe('blocked');
    expect(peerLine({ trust: 'allow', last_seen_at: now, delivery: { ...push, waiting: 1, next_attempt_at: 0 } }, now)).toMatchObject({ state: 'sending', text: 'Sending 1 message…' });
  });

  it('says what waits for a blocked or quarantined server is held, never that it is being sent or that the server is offline', () => {
    const now = Date.now();
    // Held by the node: no attempt, so nothing says it failed; the words must not say "Sending".
    const held = { ...push, waiting: 3, next_attempt_at: 0 };
    expect(peerLine({ trust: 'quarantine', last_seen_at: now, delivery: held }, now)).toMatchObject({
      state: 'quarantined', text: 'In quarantine: nothing is sent to it, and what it sends waits for your review — 3 messages held until you allow it',
    });
    expect(peerLine({ trust: 'block', last_seen_at: now, delivery: held }, now)).toMatchObject({
      state: 'blocked', text: 'Blocked: nothing is sent to or taken from this server — 3 messages held until you allow it',
    });
    // A quarantined friend that receives by pull gets nothing either (its pull answers empty).
    expect(peerLine({ trust: 'quarantine', last_seen_at: now, delivery: { ...held, mode: 'pull' } }, now).state).toBe('quarantined');
    // Nothing waiting: a quarantined friend by pull or through a mailbox is still in quarantine, not "online", and nothing it is sent waits at a mailbox.
    const empty = { ...push, waiting: 0 };
    expect(peerLine({ trust: 'quarantine', last_seen_at: now, delivery: { ...empty, mode: 'pull', last_pull_at: now } }, now).state).toBe('quarantined');
    const viaMailbox = peerLine({ trust: 'quarantine', last_seen_at: now, delivery: { ...empty, via_mailbox: 'carol.test' } }, now);
    expect(viaMailbox.state).toBe('quarantined');
    expect(viaMailbox.text).not.toMatch(/waits there/);
    // Twin: allowed, the same queue is being sent.
    expect(peerLine({ trust: 'allow', last_seen_at: now, delivery: held }, now)).toMatchObject({ state: 'sending', text: 'Sending 3 messages…' });
  });

  it('a quiet friend whose node did not answer a check is not answering, until it is heard from again (the UI check of 2026-11-27)', () => {
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const since = new Date(2026, 0, 5, 14, 2).getTime();
    const stopped = { answered_at: since - 60_000, not_answering_since: since, answers_wrongly: false, error: 'connect ECONNREFUSED 127.0.0.1:9' };
    // It sent a request 3 minutes before it stopped: that no longer makes it "Online".
    const line = peerLine({ trust: 'allow', last_seen_at: since - 180_000, delivery: push, liveness: stopped }, now);
    expect(line.state).toBe('offline');
    expect(line.text).toMatch(/^Not answering since \d\d:\d\d( [AP]M)? — nothing waiting to be sent$/);
    expect(line.cause.text).toBe('Their server is offline (it refused the connection).');
    // A request from it after the failed check: it is back.
    expect(peerLine({ trust: 'allow', last_seen_at: now - 10_000, delivery: push, liveness: stopped }, now)).toMatchObject({ state: 'online', text: 'Online · seen 10 s ago' });
    // Something else answers at its address: not called silent, and not online.
    const wrong = peerLine({ trust: 'allow', last_seen_at: null, delivery: push, liveness: { ...stopped, answers_wrongly: true, error: 'discovery at http://127.0.0.1:9/.well-known/paracord/server answered HTTP 404' } }, now);
    expect(wrong.state).toBe('offline');
    expect(wrong.text).toMatch(/^Its address answers, but not as its Paracord node should, since \d\d:\d\d( [AP]M)? — nothing waiting to be sent$/);
    expect(wrong.cause).toEqual({ text: '', details: 'discovery at http://127.0.0.1:9/.well-known/paracord/server answered HTTP 404' });
    // Answered a check: online, seen when it answered, though it sent nothing for an hour.
    const answered = { answered_at: now - 20_000, not_answering_since: null, answers_wrongly: false, error: null };
    expect(peerLine({ trust: 'allow', last_seen_at: now - 3_600_000, delivery: push, liveness: answered }, now)).toMatchObject({ state: 'online', text: 'Online · seen 20 s ago' });
    // Messages waiting: their attempts speak, not the check.
    const failing = { ...push, waiting: 2, retrying_since: now - 5_000, next_attempt_at: now + 30_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(peerLine({ trust: 'allow', last_seen_at: null, delivery: failing, liveness: answered }, now).text).toMatch(/^Offline since/);
  });

  it('does not call a quiet friend online: nothing waits, not heard from for a while → "last seen …"', () => {
    const now = Date.now();
    const quiet = peerLine({ trust: 'allow', last_seen_at: now - 3 * 86_400_000 }, now);
    expect(quiet).toMatchObject({ state: 'idle', text: 'Last seen 3 days ago — nothing waiting to be sent' });
    expect(quiet.text).not.toMatch(/online/i);
    expect(peerLine({ trust: 'allow', last_seen_at: now - ONLINE_WINDOW_MS - 1_000 }, now).state).toBe('idle');
    expect(peerLine({ trust: 'allow', last_seen_at: null }, now)).toMatchObject({ state: 'unknown', text: 'Not heard from yet' });
    // A failed attempt says more than silence: offline, even when it was seen a moment ago.
    const failing = { ...push, waiting: 1, retrying_since: now - 5_000, next_attempt_at: now + 30_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(peerLine({ trust: 'allow', last_seen_at: now - 1_000, delivery: failing }, now).state).toBe('offline');
  });

  it('says a friend that receives by pull has messages waiting to be pulled, not that it is offline', () => {
    const now = Date.now();
    const pulled = { trust: 'allow', last_seen_at: now, delivery: { ...push, mode: 'pull' as const, last_pull_at: now - 5_000 } };
    const oneTried = { ...pulled, delivery: { ...pulled.delivery, waiting: 1, retrying_since: now - 60_000, next_attempt_at: now + 1_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' } };
    expect(peerLine(oneTried, now)).toMatchObject({ state: 'sending', text: 'Receives by pull — 1 message waiting to be pulled (last fetched 5 s ago)' });
    expect(peerLine(pulled, now)).toMatchObject({ state: 'online', text: 'Receives by pull — nothing waiting (last fetched 5 s ago)' });
    const longAgo = { ...pulled, delivery: { ...pulled.delivery, last_pull_at: now - 2 * 3600_000 } };
    expect(peerLine(longAgo, now)).toMatchObject({ state: 'idle', text: 'Receives by pull — nothing waiting (last fetched 2 h ago)' });
  });

  it('says messages wait for a friend that receives by pull to fetch them, and since when, once it has not fetched for PULL_LATE_MS: not "sending"', () => {
    const now = Date.now();
    const pull = { ...push, mode: 'pull' as const, waiting: 12 };
    const silent = peerLine({ server_name: 'bob.example', trust: 'allow', last_seen_at: now - 3 * 86_400_000, delivery: { ...pull, last_pull_at: now - 3 * 86_400_000 } }, now);
    expect(silent).toMatchObject({ state: 'waiting', text: 'Waiting for bob.example to fetch 12 messages — last fetched 3 days ago' });
    expect(silent.text).not.toMatch(/sending/i);
    // A friend that never fetched (its endpoint was never reached: it is served by pull only).
    expect(peerLine({ server_name: 'bob.example', trust: 'allow', last_seen_at: null, delivery: { ...pull, waiting: 1, last_pull_at: null } }, now))
      .toMatchObject({ state: 'waiting', text: 'Waiting for bob.example to fetch 1 message — it has not fetched any yet' });
    // At the threshold it is still fetching (a long-poll, a retry): its messages are on their way.
    expect(peerLine({ server_name: 'bob.example', trust: 'allow', last_seen_at: now, delivery: { ...pull, last_pull_at: now - PULL_LATE_MS } }, now))
      .toMatchObject({ state: 'sending', text: 'Receives by pull — 12 messages waiting to be pulled (last fetched 2 min ago)' });
    expect(peerLine({ server_name: 'bob.example', trust: 'allow', last_seen_at: now, delivery: { ...pull, last_pull_at: now - PULL_LATE_MS - 1_000 } }, now).state).toBe('waiting');
    // Nothing waits: a quiet puller is idle, as before.
    expect(peerLine({ server_name: 'bob.example', trust: 'allow', last_seen_at: null, delivery: { ...pull, waiting: 0, last_pull_at: now - 3 * 86_400_000 } }, now).state).toBe('idle');
  });

  it('says a friend nobody reaches is sent to through a mailbox, not that it is offline (issue #32)', () => {
    const now = Date.now();
    const boxed = { trust: 'allow', last_seen_at: null, delivery: { ...push, via_mailbox: 'carol.example' } };
    // Not heard from: not called online (only a request within ONLINE_WINDOW_MS says that), whatever route it takes.
    expect(peerLine(boxed, now)).toMatchObject({ state: 'unknown', text: 'Through carol.example\'s mailbox — what you send waits there for it to fetch' });
    expect(peerLine({ ...boxed, last_seen_at: now - 3 * 86_400_000 }, now).state).toBe('idle');
    expect(peerLine({ ...boxed, last_seen_at: now - 30_000 }, now).state).toBe('online');
    const busy = { ...boxed, delivery: { ...boxed.delivery, waiting: 3, retrying_since: now - 60_000, next_attempt_at: now + 1_000, last_error: 'connect ETIMEDOUT' } };
    expect(peerLine(busy, now)).toMatchObject({ state: 'sending', text: 'Through carol.example\'s mailbox — 3 messages being left there' });
  });

  it('says a paced peer (its push limit) is sending slowly, not offline', () => {
    const now = Date.now();
    // One message waits, never counted as tried (a paced answer leaves its attempts as they were).
    const paced = { trust: 'allow', last_seen_at: now, delivery: { ...push, paced: true, waiting: 1, next_attempt_at: 0 } };
    expect(peerLine(paced, now)).toMatchObject({ state: 'sending', text: 'Paced — 1 message waiting: this server takes only so many a minute' });
  });

  it('says a peer that asked us to wait (its rate limit, our new key not read yet) is taking them later, not offline', () => {
    const now = Date.now();
    const waits = (lastError: string) => ({ server_name: 'friend.example', trust: 'allow', last_seen_at: now - 5_000, delivery: { ...push, waiting: 4, retrying_since: now - 20_000, next_attempt_at: now + 30_000, last_error: lastError } });
    expect(peerLine(waits('HTTP 429 rate_limited: beta.test is over its rate limit here'), now)).toMatchObject({
      state: 'sending', text: 'Asked to wait — 4 messages waiting: friend.example takes them a little later (next try in 30 s)',
      cause: { text: 'Too many requests at once. It retries by itself.', details: 'HTTP 429 rate_limited: beta.test is over its rate limit here' },
    });
    expect(peerLine(waits('HTTP 503 keys_unavailable: our keys could not be read'), now)).toMatchObject({ state: 'sending', cause: { text: expect.stringContaining('could not read your server\'s keys') } });
    // Twin: a server error is an answer (it is there: refusing); a proxy's 502 or no answer at all is "offline".
    expect(peerLine(waits('HTTP 503 internal_error: disk'), now).state).toBe('refusing');
    expect(peerLine(waits('HTTP 502 bad gateway'), now).state).toBe('offline');
    // A bare 503 (a proxy with no node behind it) or a web page: not its node's answer.
    expect(peerLine(waits('HTTP 503'), now).state).toBe('offline');
    expect(peerLine(waits('HTTP 404 <html>'), now).state).toBe('offline');
    expect(peerLine(waits('connect ECONNREFUSED 10.0.0.2:7447'), now).state).toBe('offline');
  });

  it('says a friend blocks your server (refuses_us), not "Online", though its node answers checks', () => {
    const now = Date.UTC(2026, 10, 28, 12);
    const line = peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 13_000, liveness: { answered_at: now - 5_000, not_answering_since: null, answers_wrongly: false, error: null }, refuses_us: { code: 'origin_blocked', at: now - 13_000 } }, now);
    expect(line).toEqual({ state: 'refusing', text: 'alpha.test blocks your server — it refused what yours sent 13 s ago; nothing you send reaches it until its owner allows yours', cause: { text: '', details: '' } });
    const allowlist = peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: null, refuses_us: { code: 'origin_not_allowed', at: now - 60_000 } }, now);
    expect(allowlist.text).toMatch(/^alpha\.test takes nothing from your server: it takes only the servers its owner added — /);
    // Twin: no refusal: online.
    expect(peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 13_000, refuses_us: null }, now).state).toBe('online');
  });

  it('says a friend held what your server last sent for review (holds_ours_for_review), in the past tense, not "Online"; after what asks for something sooner', () => {
    const now = Date.UTC(2026, 10, 29, 12);
    const holds = { since: now - 600_000, last_at: now - 120_000 };
    const line = peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 5_000, holds_ours_for_review: holds }, now);
    expect(line).toEqual({ state: 'reviewing', text: 'alpha.test held what your server last sent for review (2 min ago; since 10 min ago): it shows there only if its owner accepts it', cause: { text: '', details: '' } });
    expect(peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 5_000, holds_ours_for_review: { since: now - 60_000, last_at: now - 60_000 } }, now).text).toMatch(/^alpha\.test held what your server last sent for review \(1 min ago\): /);
    // Our federation paused with messages waiting: that first.
    expect(peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 5_000, delivery: { mode: 'push', waiting: 2, retrying_since: null, next_attempt_at: null, last_error: null } as never, holds_ours_for_review: holds }, now, { paused: true }).state).toBe('paused');
    // Twin: taken as any other: online.
    expect(peerLine({ server_name: 'alpha.test', trust: 'allow', last_seen_at: now - 5_000, holds_ours_for_review: null }, now).state).toBe('online');
  });
});
