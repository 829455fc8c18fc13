/**
 * Red team (issue #14 item 10 class: display strings peers choose), fixed: the check is now by
 * Unicode property (shared/identifiers.ts). It used to refuse a
 * hand-made list of code points, not the classes: other invisible FORMAT characters (General
 * Category Cf — U+1D173..U+1D17A musical formatting, U+13430..U+1343F Egyptian format controls,
 * U+1BCA0..U+1BCA3 shorthand format controls), standalone variation selectors (U+FE0F,
 * U+E0100..), Mongolian free variation selectors, Khmer inherent vowels (U+17B4/U+17B5), the
 * braille blank U+2800, and names made only of spaces (U+3000) all pass. So two room names that
 * render identically can differ, and a room can be named with nothing visible.
 * Secure outcome: every Cf character (bar ZWJ/ZWNJ in reaction keys), every default-ignorable
 * code point and blank-only names are refused: 400 invalid_room_name, nothing stored.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { isSafeDisplayName, isSafeReactionKey } from '../../shared/identifiers.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';

const DECEPTIVE: Record<string, string> = {
  'musical format U+1D173': 'Fam\u{1D173}ily',
  'egyptian format U+13430': 'Fam\u{13430}ily',
  'shorthand format U+1BCA0': 'Fam\u{1BCA0}ily',
  'variation selector U+E0100': 'Fam\u{E0100}ily',
  'mongolian FVS U+180B': 'Fam\u180Bily',
  'khmer inherent vowel U+17B4': 'Fam\u17B4ily',
  'braille blank only': '\u2800\u2800\u2800',
  'ideographic spaces only': '\u3000\u3000',
  'variation selector only': '\uFE0F',
};

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let host: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('names.test', { roomHost: true });
  alpha = await fileNodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'names.test', endpoint: host.url })).status).toBe(200);
});


describe('red team: invisible characters in names peers choose', () => {
  it('an invite whose room name hides or is only invisible characters is refused', async () => {
    const accepted: string[] = [];
    let i = 0;
    for (const [label, name] of Object.entries(DECEPTIVE)) {
      const answer = await host.invite(alpha.started.federation_url!, `!n${i++}:names.test`, '@owner:alpha.test', name);
      if (answer.status < 400) accepted.push(`${label} → ${answer.status}`);
    }
    const rooms = queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM room_invites WHERE room_id LIKE '%:names.test'")[0]!.n;
    expect(accepted, `accepted: ${accepted.join('; ')}`).toEqual([]);
    expect(rooms).toBe(0);
  });

  it('ordinary names in any script, with emoji, are still accepted', async () => {
    const names = ['Café ❤️ Family', 'שלום', '日本語の部屋', 'Ünïcödé 👨‍💻'.replace('\u200D', ' ')];
    let i = 0;
    for (const name of names) expect((await host.invite(alpha.started.federation_url!, `!ok${i++}:names.test`, '@owner:alpha.test', name)).status).toBe(200);
    const stored = queryNodeDb<{ room_name: string }>(alpha.dataDir, "SELECT room_name FROM room_invites WHERE room_id LIKE '!ok%:names.test' ORDER BY room_id").map((r) => r.room_name);
    expect(stored).toEqual(names);
  });
});

describe('display strings (unit)', () => {
  it('names: property classes and something visible; reaction keys: emoji sequences allowed', () => {
    for (const name of Object.values(DECEPTIVE)) expect(isSafeDisplayName(name), JSON.stringify(name)).toBe(false);
    for (const name of ['Family', '❤️ Family', 'Café 😀', 'שלום', '']) expect(isSafeDisplayName(name), name).toBe(true);
    expect(isSafeDisplayName('a\u200Db')).toBe(false);
    for (const key of ['👍', '👍🏽', '❤️', '❤️‍🔥', '👨‍👩‍👧', '1️⃣', 'k']) expect(isSafeReactionKey(key), key).toBe(true);
    for (const key of ['\uFE0F', 'a\u200Db', '👍\u200D', '\u3000', '\u2800', 'x\u202E', '']) expect(isSafeReactionKey(key), JSON.stringify(key)).toBe(false);
  });
});
