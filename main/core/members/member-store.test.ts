import { describe, expect, it, type TempDb } from '../../../test/helpers/fixtures.ts';
import { MAX_DEVICES_PER_MEMBER, MAX_SESSIONS_PER_MEMBER, MemberStore } from './member-store.ts';
import { passphraseProblem } from './passphrase.ts';
import { SignInLimiter } from './sign-in-limiter.ts';

const GOOD = 'otter lantern quietly 1987 marmalade';
const phone = { host: 'home.example:7447', address: '192.0.2.7', userAgent: 'phone' };

function store({ db }: TempDb) {
  return { db, members: new MemberStore(db, () => 'home.example') };
}

const refusal = async (work: Promise<unknown>) => {
  const error = await work.then(() => null, (e: { status?: number; code?: string; message: string }) => e);
  return error && { status: error.status, code: error.code, message: error.message };
};

describe('members (issue #34): links, passphrases, sign-in, sessions', () => {
  it('a join link makes a member once; the session works on its host only; bad names and weak passphrases change nothing', async ({ tempDb }) => {
    const { members, db } = store(tempDb);
    const link = members.createLink('join', { note: 'for Sam' });
    expect(await refusal(members.join(link.token, 'Owner', GOOD, phone))).toMatchObject({ status: 409, code: 'name_taken' });
    expect(await refusal(members.join(link.token, 'sam!', GOOD, phone))).toMatchObject({ status: 400, code: 'invalid_name' });
    expect(await refusal(members.join(link.token, 'sam', 'password123', phone))).toMatchObject({ status: 400, code: 'weak_passphrase' });
    expect(await refusal(members.join(link.token, 'sam', 'short', phone))).toMatchObject({ status: 400, code: 'weak_passphrase', message: expect.stringContaining('at least 10 characters') });
    expect(members.list()).toEqual([]);
    const joined = await members.join(link.token, 'Sam', GOOD, phone);
    expect(joined.user_id).toBe('@sam:home.example');
    expect(members.session(joined.token, 'home.example:7447')).toMatchObject({ user_id: '@sam:home.example' });
    expect(members.session(joined.token, 'evil.example')).toBeNull();
    expect(members.session('x'.repeat(43), 'home.example:7447')).toBeNull();
    // Single use; nothing but the token's hash is stored.
    expect(await refusal(members.join(link.token, 'sam2', GOOD, phone))).toMatchObject({ status: 409, code: 'link_used' });
    expect(JSON.stringify(db.prepare('SELECT * FROM member_links').all())).not.toContain(link.token);
    expect(JSON.stringify(db.prepare('SELECT * FROM member_sessions').all())).not.toContain(joined.token);
    expect(members.listLinks()).toMatchObject([{ id: link.id, state: 'used', used_by: '@sam:home.example', note: 'for Sam' }]);
    // Expired and revoked links.
    const old = members.createLink('join', { lifetimeMs: 1 }, Date.now() - 10);
    expect(await refusal(members.join(old.token, 'kim', GOOD, phone))).toMatchObject({ status: 410, code: 'link_expired' });
    const revoked = members.createLink('join');
    members.revokeLink(revoked.id);
    expect(await refusal(members.join(revoked.token, 'kim', GOOD, phone))).toMatchObject({ status: 403, code: 'link_revoked' });
    expect(await refusal(members.join('y'.repeat(43), 'kim', GOOD, phone))).toMatchObject({ status: 403, code: 'invalid_link' });
  });

  it('sign-in answers alike for unknown names, wrong passphrases and disabled members, and is limited per account and per address', async ({ tempDb }) => {
    const { members } = store(tempDb);
    await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const failed = { status: 401, code: 'sign_in_failed', message: 'that user name and passphrase do not match a member of this server' };
    expect(await refusal(members.signIn('nobody', GOOD, phone))).toEqual(failed);
    expect(await refusal(members.signIn('sam', 'wrong wrong wrong', phone))).toEqual(failed);
    const signedIn = await members.signIn('SAM', GOOD, phone);
    expect(members.sessionsOf('@sam:home.example')).toHaveLength(2);
    // Past their lifetime (30 days unused), sessions are over: not listed, not counted as devices signed in.
    const later = Date.now() + 31 * 86_400_000;
    expect(members.sessionsOf('@sam:home.example', later)).toEqual([]);
    expect(members.list(later)).toMatchObject([{ user_id: '@sam:home.example', sessions: 0 }]);
    expect(members.list()).toMatchObject([{ user_id: '@sam:home.example', sessions: 2 }]);
    // Disabled: every session ends at once, and signing in fails like a wrong passphrase.
    members.setDisabled('@sam:home.example', true);
    expect(members.session(signedIn.token, phone.host)).toBeNull();
    expect(members.sessionsOf('@sam:home.example')).toEqual([]);
    expect(await refusal(members.signIn('sam', GOOD, phone))).toEqual(failed);
    members.setDisabled('@sam:home.example', false);
    // One failure since sam's last sign-in (while disabled): four more, then refused without checking, in words.
    for (let i = 0; i < 4; i++) expect(await refusal(members.signIn('sam', `wrong guess ${i}`, phone))).toEqual(failed);
    expect(await refusal(members.signIn('sam', GOOD, phone))).toMatchObject({ status: 429, code: 'too_many_attempts', message: 'too many attempts, try again in 15 minutes' });
    // Another device of sam's elsewhere is refused too (the account is limited); others are not.
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, address: '198.51.100.1' }))).toMatchObject({ status: 429 });
  });

  it('signing in counts as being seen, also for a visit shorter than a minute', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const link = members.createLink('join');
    const joinedAt = Date.now() - 3_600_000;
    await members.join(link.token, 'sam', GOOD, phone, joinedAt);
    expect(members.list()[0]!.last_seen_at).toBe(joinedAt);
    const at = joinedAt + 1_800_000;
    const signedIn = await members.signIn('sam', GOOD, phone, at);
    expect(members.list()[0]!.last_seen_at).toBe(at);
    // Its session used 30 s later: not written again (at most once a minute), still seen at sign-in.
    expect(members.session(signedIn.token, phone.host, at + 30_000)).toMatchObject({ user_id: '@sam:home.example' });
    expect(members.list()[0]!.last_seen_at).toBe(at);
    // An older sign-in time (a clock moved back) does not move it back.
    await members.signIn('sam', GOOD, phone, at - 60_000);
    expect(members.list()[0]!.last_seen_at).toBe(at);
  });

  it('per address: one address guessing many names is stopped', () => {
    const limiter = new SignInLimiter({ perAccount: 5, perAddress: 3, windowMs: 60_000 });
    for (const name of ['a', 'b', 'c']) limiter.fail(name, '203.0.113.9', 1_000);
    expect(limiter.check('d', '203.0.113.9', 2_000)).toMatchObject({ ok: false, message: 'too many attempts, try again in 1 minute' });
    expect(limiter.check('d', '203.0.113.10', 2_000)).toEqual({ ok: true });
    expect(limiter.check('d', '203.0.113.9', 61_001)).toEqual({ ok: true });
  });

  it('a device the member signed in from keeps signing in while strangers\' guesses hold the account at 429; its own failures count against it alone', async ({ tempDb }) => {
    const { members, db } = store(tempDb);
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    await members.join(members.createLink('join').token, 'kim', GOOD, phone);
    const samsPhone = { ...phone, knownDevice: joined.deviceToken };
    // Only the token's hash is kept.
    expect(JSON.stringify(db.prepare('SELECT * FROM member_devices').all())).not.toContain(joined.deviceToken);
    // Strangers (any addresses) fill the account's count: signing in without a known device is refused, right passphrase or not.
    const failed = { status: 401, code: 'sign_in_failed' };
    for (let i = 0; i < 5; i++) expect(await refusal(members.signIn('sam', `guess ${i}`, { ...phone, address: `198.51.100.${i}` }))).toMatchObject(failed);
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, address: '198.51.100.50' }))).toMatchObject({ status: 429, code: 'too_many_attempts' });
    // A token that is not sam's exempts nothing: a made-up one, kim's.
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, knownDevice: 'x'.repeat(43) }))).toMatchObject({ status: 429 });
    const kims = await members.signIn('kim', GOOD, phone);
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, knownDevice: kims.deviceToken }))).toMatchObject({ status: 429 });
    // Sam's phone signs in; it keeps its token (seen again, not a new one).
    const again = await members.signIn('sam', GOOD, samsPhone);
    expect(again.deviceToken).toBe(joined.deviceToken);
    // The account's count is strangers' own: a success from the phone does not clear it.
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, address: '198.51.100.51' }))).toMatchObject({ status: 429 });
    // The phone's own wrong guesses count against the phone, with the account's limit (5), from any address.
    for (let i = 0; i < 5; i++) expect(await refusal(members.signIn('sam', `typo ${i}`, { ...samsPhone, address: `203.0.113.${i}` }))).toMatchObject(failed);
    expect(await refusal(members.signIn('sam', GOOD, { ...samsPhone, address: '203.0.113.99' }))).toMatchObject({ status: 429, code: 'too_many_attempts' });
    // While strangers hold the account at 429, the phone may still change the passphrase (its own count).
    expect(await refusal(members.changePassphrase('@sam:home.example', { current: GOOD }, 'harbor violet seventy quietly', { ...phone, address: '198.51.100.52' }))).toMatchObject({ status: 429 });
    const meanwhile = Date.now() + 16 * 60_000 - 1;
    for (let i = 0; i < 5; i++) expect(await refusal(members.signIn('sam', `guess again ${i}`, { ...phone, address: `198.51.100.${60 + i}` }, meanwhile))).toMatchObject(failed);
    const fromPhone = await members.changePassphrase('@sam:home.example', { current: GOOD }, 'harbor violet seventy quietly', { ...samsPhone, address: '203.0.113.98' }, meanwhile);
    samsPhone.knownDevice = fromPhone.deviceToken;
    // Not again within a minute (each is two Argon2id runs outside the anonymous limits); then it may.
    expect(await refusal(members.changePassphrase('@sam:home.example', { current: 'harbor violet seventy quietly' }, GOOD, { ...samsPhone, address: '203.0.113.97' }, meanwhile + 59_000))).toMatchObject({ status: 429, code: 'passphrase_changed_recently' });
    samsPhone.knownDevice = (await members.changePassphrase('@sam:home.example', { current: 'harbor violet seventy quietly' }, GOOD, { ...samsPhone, address: '203.0.113.97' }, meanwhile + 60_000)).deviceToken;
    // Turned off and on again: no device is known any more.
    const later = Date.now() + 32 * 60_000;
    const stillKnown = await members.signIn('sam', GOOD, { ...samsPhone, address: '203.0.113.100' }, later);
    expect(stillKnown.deviceToken).toBe(samsPhone.knownDevice);
    members.setDisabled('@sam:home.example', true);
    members.setDisabled('@sam:home.example', false);
    const afterEnable = await members.signIn('sam', GOOD, { ...samsPhone, address: '203.0.113.101' }, later);
    expect(afterEnable.deviceToken).not.toBe(samsPhone.knownDevice);
    // A new passphrase forgets every device: the one that changed it is remembered anew.
    const changed = await members.changePassphrase('@sam:home.example', { current: GOOD }, 'harbor violet seventy quietly', { ...phone, knownDevice: afterEnable.deviceToken, address: '203.0.113.102' }, later);
    expect(changed.deviceToken).not.toBe(afterEnable.deviceToken);
    expect(db.prepare("SELECT COUNT(*) AS n FROM member_devices WHERE user_id = '@sam:home.example'").get()).toEqual({ n: 1 });
  });

  it('a sign-in whose member is turned off while its passphrase is checked writes no session and no device', async ({ tempDb }) => {
    const { members, db } = store(tempDb);
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const rows = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = '@sam:home.example'`).get() as { n: number }).n;
    // The check runs off the main thread: the owner's click lands before the sign-in's transaction.
    const pending = members.signIn('sam', GOOD, { ...phone, knownDevice: joined.deviceToken });
    members.setDisabled('@sam:home.example', true);
    expect(await refusal(pending)).toMatchObject({ status: 401, code: 'sign_in_failed' });
    expect([rows('member_sessions'), rows('member_devices')]).toEqual([0, 0]);
    // The same for a new passphrase asked for by a session of its.
    members.setDisabled('@sam:home.example', false);
    const signedIn = await members.signIn('sam', GOOD, phone);
    const changing = members.changePassphrase('@sam:home.example', { current: GOOD }, 'harbor violet seventy quietly', { ...phone, knownDevice: signedIn.deviceToken });
    members.setDisabled('@sam:home.example', true);
    expect(await refusal(changing)).toMatchObject({ status: 403, code: 'member_disabled' });
    expect([rows('member_sessions'), rows('member_devices')]).toEqual([0, 0]);
    members.setDisabled('@sam:home.example', false);
    expect((await members.signIn('sam', GOOD, phone)).user_id).toBe('@sam:home.example');
  });

  it('ending another device\'s session forgets that device; signing out keeps it', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const laptop = members.openSession('@sam:home.example', { host: phone.host })!;
    // Signing out (its own session): the phone is still known (the same token, seen again).
    members.endSession('@sam:home.example', joined.session.id);
    const again = members.openSession('@sam:home.example', { host: phone.host, knownDevice: joined.deviceToken })!;
    expect(again.deviceToken).toBe(joined.deviceToken);
    // The laptop ends the phone's session (a lost phone): the phone is a stranger now.
    members.endSession('@sam:home.example', again.session.id, { forgetDevice: true });
    expect(members.openSession('@sam:home.example', { host: phone.host, knownDevice: joined.deviceToken })!.deviceToken).not.toBe(joined.deviceToken);
    // Nobody else's device goes, and a session that is not the member's ends nothing.
    expect(members.openSession('@sam:home.example', { host: phone.host, knownDevice: laptop.deviceToken })!.deviceToken).toBe(laptop.deviceToken);
    expect(() => members.endSession('@kim:home.example', laptop.session.id, { forgetDevice: true })).toThrow(/no such session/);
  });

  it('a session in use keeps the device that opened it known past 400 days from its sign-in; only that device\'s token refreshes it', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const day = 86_400_000;
    const start = Date.now() - 500 * day;
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone, start);
    const other = members.openSession('@sam:home.example', { host: phone.host }, start);
    // Used every 20 days (within the session's 30): each use is written once, and refreshes the device with its own token only.
    for (let at = start + 20 * day; at <= start + 420 * day; at += 20 * day) {
      const seen = members.session(joined.token, phone.host, at)!;
      expect(seen.seen).toBe(true);
      expect(members.session(joined.token, phone.host, at + 1_000)!.seen).toBe(false);
      expect(members.refreshDevice(seen.user_id, seen.session_id, other!.deviceToken, at)).toBe(false);
      expect(members.refreshDevice(seen.user_id, seen.session_id, joined.deviceToken, at)).toBe(true);
    }
    // 420 days after the sign-in the phone is still known; the other device, unused, is not.
    const later = start + 420 * day + 1_000;
    expect(members.openSession('@sam:home.example', { host: phone.host, knownDevice: joined.deviceToken }, later)!.deviceToken).toBe(joined.deviceToken);
    expect(members.openSession('@sam:home.example', { host: phone.host, knownDevice: other!.deviceToken }, later)!.deviceToken).not.toBe(other!.deviceToken);
  });

  it('remembers at most 20 devices a member (the least recently used forgotten) and none unused for 400 days', async ({ tempDb }) => {
    const { members, db } = store(tempDb);
    const start = Date.now() - 500 * 86_400_000;
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone, start);
    const devices = () => (db.prepare("SELECT COUNT(*) AS n FROM member_devices WHERE user_id = '@sam:home.example'").get() as { n: number }).n;
    // 400 days later its device is not known: a new one is made, the old one forgotten.
    const late = await members.signIn('sam', GOOD, { ...phone, knownDevice: joined.deviceToken }, start + 401 * 86_400_000);
    expect(late.deviceToken).not.toBe(joined.deviceToken);
    expect(devices()).toBe(1);
    // More devices (passkey sign-ins: the same sessions and devices, without a passphrase's hash each).
    const tokens = [late.deviceToken];
    for (let i = 1; i <= MAX_DEVICES_PER_MEMBER + 3; i++) tokens.push(members.openSession('@sam:home.example', phone, start + 401 * 86_400_000 + i)!.deviceToken);
    expect(devices()).toBe(MAX_DEVICES_PER_MEMBER);
    expect((await members.signIn('sam', GOOD, { ...phone, knownDevice: tokens.at(-1)! })).deviceToken).toBe(tokens.at(-1));
    expect(members.openSession('@sam:home.example', { ...phone, knownDevice: tokens[0]! })!.deviceToken).not.toBe(tokens[0]);
  });

  it('a new passphrase ends every session; a reset link sets one without the old, once, for its member only', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const sam = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const kim = await members.join(members.createLink('join').token, 'kim', 'kestrel harbour violet 42 thimble', phone);
    expect(await refusal(members.changePassphrase(sam.user_id, { current: 'not it at all' }, 'another fine long phrase 77', phone))).toMatchObject({ status: 401, code: 'wrong_passphrase' });
    const changed = await members.changePassphrase(sam.user_id, { current: GOOD }, 'another fine long phrase 77', phone);
    expect(members.session(sam.token, phone.host)).toBeNull();
    expect(members.session(changed.token, phone.host)).toMatchObject({ user_id: sam.user_id });
    // A member ends its own sessions only.
    expect(() => members.endSession(kim.user_id, changed.session.id)).toThrow(/no such session/);
    members.endSession(sam.user_id, changed.session.id);
    expect(members.session(changed.token, phone.host)).toBeNull();
    // The owner's reset link: for sam only, once.
    const reset = members.createLink('reset', { userId: sam.user_id });
    expect(members.inspectLink(reset.token)).toEqual({ purpose: 'reset', user_id: sam.user_id });
    expect(await refusal(members.join(reset.token, 'lee', GOOD, phone))).toMatchObject({ status: 400, code: 'wrong_link' });
    expect(await refusal(members.changePassphrase(kim.user_id, { token: reset.token }, 'yet another good phrase 5', phone))).toMatchObject({ status: 403, code: 'invalid_link' });
    // Turned off by the owner: the link is refused, not used up (it was, and the sign-in after it failed unexplained).
    members.setDisabled(sam.user_id, true);
    expect(await refusal(members.changePassphrase(sam.user_id, { token: reset.token }, 'yet another good phrase 5', phone))).toMatchObject({ status: 403, code: 'member_disabled' });
    members.setDisabled(sam.user_id, false);
    await members.changePassphrase(sam.user_id, { token: reset.token }, 'yet another good phrase 5', phone);
    expect(await refusal(members.changePassphrase(sam.user_id, { token: reset.token }, 'and one more good phrase 6', phone))).toMatchObject({ status: 409, code: 'link_used' });
    expect((await members.signIn('sam', 'yet another good phrase 5', phone)).user_id).toBe(sam.user_id);
    expect(() => members.createLink('reset', { userId: '@nobody:home.example' })).toThrow(/not a member/);
  });

  it('one passphrase change at a time per member, and not again within a minute of the last', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const sam = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const both = await Promise.allSettled([
      members.changePassphrase(sam.user_id, { current: GOOD }, 'another fine long phrase 77', phone),
      members.changePassphrase(sam.user_id, { current: GOOD }, 'yet another good phrase 5', phone),
    ]);
    expect(both.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((both[1] as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'passphrase_changed_recently' });
    expect(await refusal(members.changePassphrase(sam.user_id, { current: 'another fine long phrase 77' }, GOOD, phone))).toMatchObject({ status: 429, code: 'passphrase_changed_recently' });
  });

  it('a passphrase confirmed (before a passkey is added) counts under the sign-in limits, one check at a time per member, none within 10 s of a right one', async ({ tempDb }) => {
    const { members } = store(tempDb);
    const sam = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const stolen = { ...phone, address: '203.0.113.50' }; // a session someone else got hold of, no device of sam's
    const t0 = Date.now();
    await members.confirmPassphrase(sam.user_id, GOOD, stolen, t0);
    // Each is an Argon2id run: not again within 10 s of a right one (a script repeating it held a hashing slot).
    expect(await refusal(members.confirmPassphrase(sam.user_id, GOOD, stolen, t0 + 9_000))).toMatchObject({ status: 429, code: 'passphrase_check_running' });
    const t = t0 + 10_000;
    const wrong = { status: 401, code: 'wrong_passphrase', message: 'the passphrase is not right' };
    // Two at once: the second is refused before its check; so is a passphrase change meanwhile, in its own words.
    const both = await Promise.allSettled([
      members.confirmPassphrase(sam.user_id, 'wrong guess 0', stolen, t),
      members.confirmPassphrase(sam.user_id, 'wrong guess 1', stolen, t),
      members.changePassphrase(sam.user_id, { current: GOOD }, 'another fine long phrase 77', phone, t),
    ]);
    expect(both.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual(['wrong_passphrase', 'passphrase_check_running', 'passphrase_check_running']);
    // Guesses count as sign-in failures do: four more, then refused without a check, even the right one.
    for (let i = 2; i < 6; i++) expect(await refusal(members.confirmPassphrase(sam.user_id, `wrong guess ${i}`, stolen, t + i))).toEqual(wrong);
    expect(await refusal(members.confirmPassphrase(sam.user_id, GOOD, stolen, t + 10))).toMatchObject({ status: 429, code: 'too_many_attempts' });
    // Sam's own device (known: it signed in) is not held by them.
    await members.confirmPassphrase(sam.user_id, GOOD, { ...phone, knownDevice: sam.deviceToken }, t + 20);
    members.setDisabled(sam.user_id, true);
    expect(await refusal(members.confirmPassphrase(sam.user_id, GOOD, { ...phone, knownDevice: sam.deviceToken }, t + 30_000))).toMatchObject({ status: 401, code: 'session_ended' });
  });

  it('passphrases people guess first are refused in words', async () => {
    for (const weak of ['password123', 'qwertyuiop', 'iloveyou2020', 'homeexample1']) expect(await passphraseProblem(weak, ['home.example']), weak).toMatch(/guess first|at least/);
    expect(await passphraseProblem(GOOD)).toBeNull();
  });

  it('keeps at most 50 sessions a member (the least recently used signed out) and none that is over; refuses an absurd Host', async ({ tempDb }) => {
    const { members, db } = store(tempDb);
    await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const count = () => (db.prepare("SELECT COUNT(*) AS n FROM member_sessions WHERE user_id = '@sam:home.example'").get() as { n: number }).n;
    const first = await members.signIn('sam', GOOD, phone, Date.now() - 40 * 86_400_000); // over by now
    expect(members.session(first.token, phone.host)).toBeNull();
    const signedIn = [];
    // (Passkey sign-ins past the first: the same sessions, without a passphrase's hash each.)
    for (let i = 0; i < MAX_SESSIONS_PER_MEMBER + 5; i++) signedIn.push(i === 0 ? await members.signIn('sam', GOOD, phone, Date.now() + i) : members.openSession('@sam:home.example', phone, Date.now() + i)!);
    expect(count()).toBe(MAX_SESSIONS_PER_MEMBER);
    expect(members.session(signedIn.at(-1)!.token, phone.host)).not.toBeNull();
    expect(members.session(signedIn[0]!.token, phone.host)).toBeNull();
    expect(await refusal(members.signIn('sam', GOOD, { ...phone, host: 'h'.repeat(15_000) }))).toMatchObject({ status: 400, code: 'invalid_host' });
    expect(count()).toBe(MAX_SESSIONS_PER_MEMBER);
  });
});
