/**
 * Red team (issue #37 item 11), mitigated. A peer's refusal carrying escape sequences — an OSC 52
 * clipboard write, a screen clear, a carriage return and a fake "OK" line, a bidi override — was
 * printed raw by `paracord-node peer redeem`, and the peer's `error` string became our admin
 * API's error code (`invalid_token` with the peer's 401: our UI would take the owner for signed
 * out). Now (util/untrusted-text.ts, federation/peer-refusal.ts): text from the network is
 * printed, stored and logged only cleaned (controls, ESC, CR/LF and bidi controls shown escaped)
 * and cut to a length; the code and the status are ours (`peering_refused`, `peer_refused`), the
 * peer's code and words only a detail of the message. Real node processes, the real CLI, a
 * hostile server on 127.0.0.1 (somebody else's, not a component of ours).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { canonicalJson } from '../../main/core/crypto/canonical-json.ts';
import { encodeLink } from '../../main/core/peering/invite-link.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import { type NodeProcess, runCli } from '../helpers/node-process.ts';
import { eventually, send } from '../helpers/rooms.ts';

/** What a terminal acts on: C0 (ESC, BEL, CR, LF…), DEL, C1, bidi overrides and isolates, line separators. */
// eslint-disable-next-line no-control-regex -- the control characters are the point
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CLIPBOARD = '\u001b]52;c;cm0gLXJmIH4vKg==\u0007';
const HOSTILE_WORDS = `${CLIPBOARD}\u001b[2J\u001b[H\rOK: peered with hostile.test\n\u202eevil\u202c`;

/** A link to `fake`, signed with its real key: redeeming it reaches its POST /peering. */
function linkTo(fake: FakePeer): string {
  const unsigned = {
    v: 1 as const, server_name: fake.serverName, endpoint: fake.url, key_id: fake.identity.keyId, public_key: fake.identity.publicKeyHex,
    tls_fingerprint: null, token: 'A'.repeat(43), expires_at: Date.now() + 3_600_000,
  };
  return encodeLink({ ...unsigned, sig: fake.identity.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) }).link;
}

let beta: NodeProcess;
let alpha: NodeProcess;
let hostile: FakePeer;
let peeringAnswer: { status: number; body: unknown } = { status: 403, body: {} };

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha-ti.test' });
  beta = fileNodes.process({ serverName: 'beta-ti.test' });
  await Promise.all([alpha.start(), beta.start()]);
  hostile = await fileNodes.fakePeer('hostile-ti.test');
  hostile.routes.set('/_paracord/federation/v1/peering', () => peeringAnswer);
});

describe('red team: a peer\'s words on our terminal, in our log and as our error codes', () => {
  it('peer redeem prints a hostile refusal as one clean line with our code; a real redeem and a used link still read as before', async () => {
    peeringAnswer = { status: 403, body: { error: `${CLIPBOARD}owned`, message: HOSTILE_WORDS } };
    const refused = await runCli(['peer', 'redeem', linkTo(hostile), '--data', beta.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.endsWith('\n')).toBe(true);
    const lines = refused.stderr.slice(0, -1).split('\n');
    expect(lines).toHaveLength(1);
    expect(refused.stderr.slice(0, -1)).not.toMatch(TERMINAL_CONTROLS);
    expect(lines[0]).toContain('hostile-ti.test refused');
    expect(lines[0]).toContain('\\x1b]52;c;');
    expect(lines[0]).toContain('\\x0dOK: peered');
    expect(lines[0]).toContain('\\u202e');
    expect(lines[0]).toMatch(/\(peering_refused\)$/);

    // The legitimate twin: a friend's real link is redeemed; used again, its own words and code come through.
    const link = (await alpha.admin('POST', '/invites/peer', { expires_in_seconds: 3600 })).body.link as string;
    const redeemed = await runCli(['peer', 'redeem', link, '--data', beta.dataDir]);
    expect(redeemed.code, redeemed.stderr).toBe(0);
    expect(JSON.parse(redeemed.stdout)).toMatchObject({ server_name: 'alpha-ti.test' });
    const again = await runCli(['peer', 'redeem', link, '--data', beta.dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    // Its code once (the peer's refusal names it already: cli/common.ts).
    expect(again.stderr.match(/\(link_used\)/g)).toHaveLength(1);
  });

  it('the admin API answers our code and status, with the peer\'s code and words only as a cleaned, bounded detail', async () => {
    // A peer that says "invalid_token" with 401 must not sign our owner out of the UI.
    peeringAnswer = { status: 401, body: { error: 'invalid_token', message: `${'\u001b[31m'}${'x'.repeat(100_000)}` } };
    const answer = await beta.admin('POST', '/invites/peer/redeem', { link: linkTo(hostile) });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toBe('peering_refused');
    expect(answer.body.message).toContain('(invalid_token)');
    expect(answer.body.message).not.toMatch(TERMINAL_CONTROLS);
    expect(answer.body.message.length).toBeLessThan(1_000);

    // A 5xx, or an "error" that is not a code at all: ours too.
    peeringAnswer = { status: 500, body: { error: 'setup_required', message: 'x' } };
    expect((await beta.admin('POST', '/invites/peer/redeem', { link: linkTo(hostile) })).body).toMatchObject({ error: 'peering_refused' });
    peeringAnswer = { status: 409, body: { error: `\u202e${'y'.repeat(5_000)}` } };
    const odd = await beta.admin('POST', '/invites/peer/redeem', { link: linkTo(hostile) });
    expect(odd.status).toBe(409);
    expect(odd.body.error).toBe('peering_refused');
    expect(odd.body.message).not.toMatch(TERMINAL_CONTROLS);
  });

  it('a delivery refused with escape sequences is stored, shown and logged cleaned; a plain refusal reads as before', async () => {
    const roomId = (await beta.admin('POST', '/rooms', { name: 'with a hostile member' })).body.room_id as string;
    await joinFakePeer(beta, roomId, hostile);
    hostile.answer = { status: 403, body: { error: 'origin_blocked', message: HOSTILE_WORDS } };
    const eventId = await send(beta, roomId, 'hello');
    const entry = await eventually(async () => {
      const found = (await beta.admin('GET', '/queue?destination=hostile-ti.test')).body.entries.find((e: { event_id: string }) => e.event_id === eventId);
      expect(found?.state).toBe('failed');
      return found as { last_error: string };
    });
    expect(entry.last_error).toMatch(/^HTTP 403 origin_blocked: /);
    expect(entry.last_error).toContain('OK: peered');
    expect(entry.last_error).not.toMatch(TERMINAL_CONTROLS);
    // The node's log (JSON lines) holds no bidi override or C1 control from the peer either.
    // Written after the row, through the logger's asynchronous stream: waited for.
    const logs = join(beta.dataDir, 'logs');
    const text = await eventually(async () => {
      const read = readdirSync(logs).map((name) => readFileSync(join(logs, name), 'utf8')).join('');
      expect(read).toContain('OK: peered with hostile.test');
      return read;
    });
    expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u0080-\u009f]/);

    // The legitimate twin: a plain refusal keeps its words.
    hostile.answer = { status: 403, body: { error: 'origin_blocked', message: 'beta-ti.test is blocked by this server' } };
    const second = await send(beta, roomId, 'again');
    await eventually(async () => {
      const found = (await beta.admin('GET', '/queue?destination=hostile-ti.test')).body.entries.find((e: { event_id: string }) => e.event_id === second);
      expect(found?.last_error).toBe('HTTP 403 origin_blocked: beta-ti.test is blocked by this server');
    });
  });
});
