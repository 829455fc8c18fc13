import { describe, expect, it } from 'vitest';
import { EVENT_ID, REFERENCE_USER_ID, eventIdBelongsTo, isUserId, isUserIdOfAnyDialect } from '../../../../shared/identifiers.ts';
import { baseUrlFromAnyLink, readDiscovery, resolveFederationEndpoint } from './dialect.ts';
import { checkReferenceKeys, unsignedKeysTrust } from './keys.ts';
import { guildIdOfRoom, isCanonicalI64, localView, newSnowflake } from './vocabulary.ts';
import { referenceInviteBody, referenceMembershipBody } from './wire.ts';

const WK = 'https://ref.example/.well-known/paracord/server';

describe('discovery of either dialect', () => {
  it('reads the reference form (relative endpoint, domain, no capabilities) as dialect reference', () => {
    const read = readDiscovery({ domain: 'chat.ref.example', enabled: true, federation_endpoint: '/_paracord/federation/v1', server_name: 'ref.example', version: 'federation-v1', extra: [1] }, WK);
    expect(read).toEqual({ ok: true, document: { server_name: 'ref.example', domain: 'chat.ref.example', federation_endpoint: 'https://ref.example', enabled: true, version: 'federation-v1', capabilities: [], federation_endpoints: ['https://ref.example'], dialect: 'reference' } });
  });
  it('reads ours (absolute origin, capabilities) as dialect node', () => {
    const read = readDiscovery({ server_name: 'a.example', domain: 'a.example', federation_endpoint: 'https://a.example:8448', enabled: true, version: 'federation-v1', capabilities: ['batch'] }, 'https://a.example:8448/.well-known/paracord/server');
    expect(read.ok && read.document.dialect).toBe('node');
  });
  it('reads federation_endpoints leniently (issue #32 item 4): the primary first, bad entries and a bad list ignored, never a reason to refuse', () => {
    const ours = { server_name: 'a.example', domain: 'a.example', federation_endpoint: 'https://a.example:8448', enabled: true, version: 'federation-v1', capabilities: [] };
    const at = 'https://a.example:8448/.well-known/paracord/server';
    const read = (federation_endpoints: unknown) => {
      const r = readDiscovery({ ...ours, federation_endpoints }, at);
      expect(r.ok).toBe(true);
      return r.ok ? r.document.federation_endpoints : [];
    };
    // The legitimate list: normalised, in order, the primary first and once.
    expect(read(['https://a.example:8448', 'https://[2001:DB9::5]:8448/', 'https://203.0.114.7:8448'])).toEqual(['https://a.example:8448', 'https://[2001:db9::5]:8448', 'https://203.0.114.7:8448']);
    expect(read(['https://[2001:db9::5]:8448'])).toEqual(['https://a.example:8448', 'https://[2001:db9::5]:8448']);
    // Entries that are not endpoints, or would downgrade to plain http, are dropped; the rest stays.
    expect(read(['http://[2001:db9::5]:8448', 'https://u:p@b.example', 'https://b.example/path', 42, null, 'ftp://b.example', 'https://b.example'])).toEqual(['https://a.example:8448', 'https://b.example']);
    // Not a list, or absent: just the primary endpoint; the document is read as before.
    for (const bad of [undefined, 'https://b.example', { 0: 'https://b.example' }, 7]) expect(read(bad)).toEqual(['https://a.example:8448']);
    // At most 8, however long the list.
    expect(read(Array.from({ length: 100 }, (_, i) => `https://h${i}.example`))).toHaveLength(8);
    // A reference server (no capabilities) is not read for it.
    const reference = readDiscovery({ server_name: 'ref.example', enabled: true, federation_endpoint: '/_paracord/federation/v1', federation_endpoints: ['https://b.example'] }, WK);
    expect(reference.ok && reference.document.federation_endpoints).toEqual(['https://ref.example']);
  });
  it('refuses endpoints with other paths, queries, userinfo or protocol-relative forms', () => {
    for (const bad of ['/elsewhere', '//evil.example/_paracord/federation/v1', 'https://u:p@ref.example', 'https://ref.example/_paracord/federation/v1?x=1', 'ftp://ref.example', 'relative/path']) {
      expect(resolveFederationEndpoint(bad, WK).ok, bad).toBe(false);
    }
    expect(resolveFederationEndpoint('https://ref.example/_paracord/federation/v1/', WK)).toEqual({ ok: true, endpoint: 'https://ref.example' });
  });
  it('refuses a non-canonical server name or domain', () => {
    expect(readDiscovery({ server_name: '2130706433', enabled: true, federation_endpoint: '/_paracord/federation/v1' }, WK).ok).toBe(false);
    expect(readDiscovery({ server_name: 'ref.example', domain: 'bad domain', enabled: true, federation_endpoint: '/_paracord/federation/v1' }, WK).ok).toBe(false);
  });
  it('an owner may paste a base URL, a federation URL or any link on the server', () => {
    expect(baseUrlFromAnyLink('https://ref.example/_paracord/federation/v1')).toMatchObject({ ok: true, endpoint: 'https://ref.example' });
    expect(baseUrlFromAnyLink('https://ref.example:8443/invite/abc?x=1#y')).toMatchObject({ ok: true, endpoint: 'https://ref.example:8443' });
    expect(baseUrlFromAnyLink('https://user@ref.example/').ok).toBe(false);
    expect(baseUrlFromAnyLink('https://0x7f000001/').ok).toBe(false);
  });
});

describe('its unsigned keys', () => {
  const doc = { server_name: 'ref.example', keys: [{ server_name: 'ref.example', key_id: 'ed25519:auto', public_key: 'a'.repeat(64), valid_until: 1 }] };
  it('are read with valid_until as a hint (never an expiry)', () => {
    const check = checkReferenceKeys(doc, 'ref.example');
    expect(check.ok && check.document.active_key).toEqual({ key_id: 'ed25519:auto', public_key: 'a'.repeat(64), valid_until: Number.MAX_SAFE_INTEGER });
  });
  it('must name the server asked, in the document and in every key', () => {
    expect(checkReferenceKeys(doc, 'other.example').ok).toBe(false);
    expect(checkReferenceKeys({ ...doc, keys: [{ ...doc.keys[0], server_name: 'other.example' }] }, 'ref.example').ok).toBe(false);
    expect(checkReferenceKeys({ ...doc, keys: [] }, 'ref.example').ok).toBe(false);
  });
  it('are trusted over https, or when the owner confirmed the key; never over plain http alone', () => {
    const check = checkReferenceKeys(doc, 'ref.example');
    if (!check.ok) throw new Error('unexpected');
    expect(unsignedKeysTrust('https://ref.example', check.document).trusted).toBe(true);
    expect(unsignedKeysTrust('http://ref.example', check.document).trusted).toBe(false);
    expect(unsignedKeysTrust('http://ref.example', check.document, { key_id: 'ed25519:auto', public_key: 'a'.repeat(64) }).trusted).toBe(true);
    expect(unsignedKeysTrust('https://ref.example', check.document, { key_id: 'ed25519:auto', public_key: 'b'.repeat(64) }).trusted).toBe(false);
  });
  it('over plain http, only the confirmed key is kept of what the document lists; over https all of it', () => {
    const listed = { ...doc, keys: [{ ...doc.keys[0]!, key_id: 'ed25519:other', public_key: 'c'.repeat(64) }, doc.keys[0]!, { ...doc.keys[0]!, key_id: 'ed25519:more', public_key: 'd'.repeat(64) }] };
    const check = checkReferenceKeys(listed, 'ref.example');
    if (!check.ok) throw new Error('unexpected');
    const confirmed = { key_id: 'ed25519:auto', public_key: 'a'.repeat(64) };
    const plain = unsignedKeysTrust('http://ref.example', check.document, confirmed);
    expect(plain.trusted && plain.document).toMatchObject({ active_key: confirmed, next_keys: [] });
    const secure = unsignedKeysTrust('https://ref.example', check.document, confirmed);
    expect(secure.trusted && secure.document).toEqual(check.document);
  });
});

describe('ids', () => {
  it('accepts its event ids (extra colons, emoji) and decides the server by suffix', () => {
    for (const id of ['$123:ref.example', '$m_message:1:2:ref.example', '$m_reaction_add:1:👍🏽:2:ref.example', '$m_member_join:7:8:9:ref.example']) {
      expect(EVENT_ID.test(id), id).toBe(true);
      expect(eventIdBelongsTo(id, 'ref.example')).toBe(true);
      expect(eventIdBelongsTo(id, 'example')).toBe(false);
    }
    expect(eventIdBelongsTo('$x:ref.example', 'evil.example')).toBe(false);
    for (const bad of ['$a\u202e:ref.example', '$a b:ref.example', '$a\u200b:ref.example', '$\u3164:ref.example', '$a\n:ref.example']) expect(EVENT_ID.test(bad), bad).toBe(false);
  });
  it('its Unicode user names only through the any-dialect check; ours stay strict', () => {
    expect(isUserId('@Zoë:ref.example')).toBe(false);
    expect(isUserIdOfAnyDialect('@Zoë:ref.example')).toBe(true);
    for (const bad of ['@Zo\u202eë:ref.example', '@a\u3164:ref.example', '@a b:ref.example', '@a:b:c']) expect(REFERENCE_USER_ID.test(bad), bad).toBe(false);
  });
  it('new room ids are canonical positive i64s', () => {
    for (let i = 0; i < 100; i++) expect(isCanonicalI64(newSnowflake())).toBe(true);
    // Many in the same millisecond (a batch): strictly increasing, so never two alike.
    const sameMs = Array.from({ length: 5000 }, () => BigInt(newSnowflake(1_800_000_000_000)));
    expect(sameMs.every((v, i) => i === 0 || v > sameMs[i - 1]!)).toBe(true);
    expect(isCanonicalI64('007')).toBe(false);
    expect(isCanonicalI64('9223372036854775808')).toBe(false);
    expect(guildIdOfRoom('!42:x.example')).toBe('42');
    expect(guildIdOfRoom('!abc:x.example')).toBeNull();
  });
});

describe('wire bodies it re-serialises to', () => {
  it('invite always carries max_age_seconds; join/leave exactly three fields', () => {
    expect(referenceInviteBody({ origin_server: 'a.example', room_id: '!1:r.example', sender: '@u:a.example', max_age_seconds: null })).toBe('{"origin_server":"a.example","room_id":"!1:r.example","sender":"@u:a.example","max_age_seconds":null}');
    expect(referenceMembershipBody({ origin_server: 'a.example', room_id: '!1:r.example', user_id: '@u:a.example' })).toBe('{"origin_server":"a.example","room_id":"!1:r.example","user_id":"@u:a.example"}');
  });
});

describe('its vocabulary read in ours', () => {
  const base = { room_id: '!1:r.example', sender: '@Zoë:r.example', origin_server: 'r.example', origin_ts: 5, depth: 5, state_key: null, signatures: {} };
  const lookup = { messageEvent: (_r: string, origin: string, mid: string) => (origin === 'r.example' && mid === '77' ? '$77:r.example' : undefined), messageIdOf: () => undefined };
  it('targets by message_id (scoped to the origin), then target_event_id; emoji is the key; member state_key from sender', () => {
    expect(localView({ ...base, event_id: '$e:r.example', event_type: 'm.reaction.add', content: { message_id: '77', emoji: ' 👍 ' } }, lookup).content).toEqual({ target: '$77:r.example', key: '👍' });
    expect(localView({ ...base, event_id: '$e:r.example', event_type: 'm.message.delete', content: { message_id: '99', target_event_id: '$t:r.example' } }, lookup).content).toEqual({ target: '$t:r.example' });
    expect(() => localView({ ...base, event_id: '$e:r.example', event_type: 'm.message.edit', content: { message_id: '99', body: 'x' } }, lookup)).toThrow(/names no message/);
    const join = localView({ ...base, event_id: '$j:r.example', event_type: 'm.member.join', content: { guild_id: '1', user_id: '12' } }, lookup);
    expect([join.state_key, join.content]).toEqual(['@Zoë:r.example', { membership: 'join' }]);
    expect(localView({ ...base, event_id: '$m:r.example', event_type: 'm.message', content: { body: '', attachments: [{}] } }, lookup).content.body).toBe('[1 attachment]');
    expect(() => localView({ ...base, event_id: '$m:r.example', event_type: 'm.message', content: { body: 5 } }, lookup)).toThrow();
  });
});
