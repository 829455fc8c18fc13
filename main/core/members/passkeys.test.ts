/**
 * How many passkeys a member keeps, and what of them (a helper's red-team review, 2026-11-28): the
 * cap of 20 was counted per site (the Host a page came from, any *.localhost or any name over the
 * node's TLS) and only when the options were asked for, so one member made rows without end; and
 * the credential id kept was the authenticator's, of any length (~24 KB a row). Real SQLite, the
 * real WebAuthn checks, a software authenticator.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { SoftAuthenticator } from '../../../test/helpers/soft-authenticator.ts';
import { MemberStore } from './member-store.ts';
import { MAX_PASSKEYS_PER_MEMBER, MemberPasskeys } from './passkeys.ts';

const GOOD = 'otter lantern quietly 1987 marmalade';
const phone = { host: 'a.localhost', address: '192.0.2.7', userAgent: 'phone' };
const site = (name: string) => ({ rpId: name, origin: `http://${name}` });

const refusal = async (work: Promise<unknown>) => {
  const error = await work.then(() => null, (e: { status?: number; code?: string }) => e);
  return error && { status: error.status, code: error.code };
};

describe('member passkeys', () => {
  it('at most 20 a member over every site, counted again when one is kept (two asked at 19 keep one)', async ({ tempDb }) => {
    const members = new MemberStore(tempDb.db, () => 'home.example');
    const passkeys = new MemberPasskeys(tempDb.db, members, () => 'home.example');
    const sam = (await members.join(members.createLink('join').token, 'sam', GOOD, phone)).user_id;
    // Live sessions of sam's: a passkey is kept only for a session that still exists when it is checked.
    const live = () => members.openSession(sam, phone)!.session.id;
    const [s1, s2, s3] = [live(), live(), live()];
    const add = async (where: string, session: string) => {
      const options = await passkeys.registrationOptions(sam, session, null, site(where));
      return passkeys.register(sam, session, new SoftAuthenticator().create(options, site(where).origin), null, site(where));
    };
    for (let i = 0; i < MAX_PASSKEYS_PER_MEMBER - 1; i++) await add('a.localhost', s1);
    // Two sessions ask at 19: both may ask, only one keeps its passkey.
    const first = await passkeys.registrationOptions(sam, s1, null, site('a.localhost'));
    const second = await passkeys.registrationOptions(sam, s2, null, site('b.localhost'));
    await passkeys.register(sam, s1, new SoftAuthenticator().create(first, 'http://a.localhost'), null, site('a.localhost'));
    expect(await refusal(passkeys.register(sam, s2, new SoftAuthenticator().create(second, 'http://b.localhost'), null, site('b.localhost')))).toEqual({ status: 409, code: 'too_many_passkeys' });
    // Another site (Host) is no way around it.
    expect(await refusal(add('c.localhost', s3))).toEqual({ status: 409, code: 'too_many_passkeys' });
    expect(passkeys.list(sam)).toHaveLength(MAX_PASSKEYS_PER_MEMBER);
  });

  it('anybody\'s wrong passphrases for a member do not lock its passkey out, nor forged passkey answers its passphrase', async ({ tempDb }) => {
    const members = new MemberStore(tempDb.db, () => 'home.example');
    const passkeys = new MemberPasskeys(tempDb.db, members, () => 'home.example');
    const sam = (await members.join(members.createLink('join').token, 'sam', GOOD, phone)).user_id;
    // Live sessions of sam's: a passkey is kept only for a session that still exists when it is checked.
    const live = () => members.openSession(sam, phone)!.session.id;
    const s1 = live();
    const key = new SoftAuthenticator();
    await passkeys.register(sam, s1, key.create(await passkeys.registrationOptions(sam, s1, null, site('a.localhost')), 'http://a.localhost'), null, site('a.localhost'));
    // A stranger guesses sam's passphrase from many addresses until sam's account is locked.
    const guesses = [];
    for (let i = 0; i < 8; i++) guesses.push(await refusal(members.signIn('sam', `wrong guess ${i} of a stranger`, { host: 'a.localhost', address: `198.51.100.${i + 1}` })));
    expect(guesses.slice(0, 5).every((g) => g?.status === 401)).toBe(true);
    expect(guesses.slice(5).every((g) => g?.status === 429)).toBe(true);
    expect(await refusal(members.signIn('sam', GOOD, phone))).toMatchObject({ status: 429 });
    // sam's passkey still signs in.
    const asked = await passkeys.signInOptions(site('a.localhost'));
    const session = await passkeys.signIn(asked.attempt, key.get(asked.options, 'http://a.localhost'), site('a.localhost'), phone);
    expect(session.user_id).toBe(sam);
    // Forged answers naming sam's credential (a wrong signature), many of them: sam's passphrase is not locked by them.
    const lea = (await members.join(members.createLink('join').token, 'lea', GOOD, phone)).user_id;
    const leaKey = new SoftAuthenticator();
    const leas = members.openSession(lea, phone)!.session.id;
    await passkeys.register(lea, leas, leaKey.create(await passkeys.registrationOptions(lea, leas, null, site('a.localhost')), 'http://a.localhost'), null, site('a.localhost'));
    const forger = new SoftAuthenticator();
    for (let i = 0; i < 8; i++) {
      const attempt = await passkeys.signInOptions(site('a.localhost'));
      const forged = { ...forger.get(attempt.options, 'http://a.localhost'), id: leaKey.id, rawId: leaKey.id };
      expect((await refusal(passkeys.signIn(attempt.attempt, forged, site('a.localhost'), { host: 'a.localhost', address: `203.0.113.${i + 1}` })))?.status).toBeGreaterThanOrEqual(400);
    }
    expect((await members.signIn('lea', GOOD, { host: 'a.localhost', address: '192.0.2.99' })).user_id).toBe(lea);
  });

  it('keeps none for a session that ended while its answer was checked (a reset link used, the member turned off)', async ({ tempDb }) => {
    const members = new MemberStore(tempDb.db, () => 'home.example');
    const passkeys = new MemberPasskeys(tempDb.db, members, () => 'home.example');
    const joined = await members.join(members.createLink('join').token, 'sam', GOOD, phone);
    const options = await passkeys.registrationOptions(joined.user_id, joined.session.id, null, site('a.localhost'));
    members.setDisabled(joined.user_id, true);
    members.setDisabled(joined.user_id, false);
    expect(await refusal(passkeys.register(joined.user_id, joined.session.id, new SoftAuthenticator().create(options, 'http://a.localhost'), null, site('a.localhost')))).toEqual({ status: 401, code: 'session_ended' });
    expect(passkeys.list(joined.user_id)).toEqual([]);
  });

  it('keeps no credential id longer than WebAuthn allows (1,023 bytes); a usual one is kept', async ({ tempDb }) => {
    const members = new MemberStore(tempDb.db, () => 'home.example');
    const passkeys = new MemberPasskeys(tempDb.db, members, () => 'home.example');
    const sam = (await members.join(members.createLink('join').token, 'sam', GOOD, phone)).user_id;
    // Live sessions of sam's: a passkey is kept only for a session that still exists when it is checked.
    const live = () => members.openSession(sam, phone)!.session.id;
    const s1 = live();
    const long = await passkeys.registrationOptions(sam, s1, null, site('a.localhost'));
    expect(await refusal(passkeys.register(sam, s1, new SoftAuthenticator(2_000).create(long, 'http://a.localhost'), null, site('a.localhost')))).toEqual({ status: 400, code: 'passkey_not_accepted' });
    expect(passkeys.list(sam)).toEqual([]);
    const usual = await passkeys.registrationOptions(sam, s1, null, site('a.localhost'));
    await passkeys.register(sam, s1, new SoftAuthenticator().create(usual, 'http://a.localhost'), 'Phone', site('a.localhost'));
    expect(passkeys.list(sam)).toMatchObject([{ name: 'Phone', rp_id: 'a.localhost' }]);
  });
});
