/**
 * Identifier grammar of the wire protocol (docs/PROTOCOL.md "Identifiers"). Shared by the
 * node and the renderer so the UI validates exactly what the node will accept.
 */

/** DNS name (lowercase) or IPv4 literal, with an optional port. */
const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SERVER_NAME_SOURCE = `${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]{1,5})?`;

export const SERVER_NAME = new RegExp(`^${SERVER_NAME_SOURCE}$`);
export const KEY_ID = /^ed25519:[A-Za-z0-9_]{1,32}$/;
export const LOCALPART = /^[a-z0-9._=\-/]{1,64}$/;

/**
 * The one id grammar (user, room and event ids): a pattern whose server part must also be a
 * server name in canonical form (isServerName below) — so `@x:127.1`, `@x:2130706433` or
 * `@x:evil.test:08448` are not ids, exactly as they are not server names. Every id check goes
 * through it: `.test()`/`.exec()` on these patterns (zod's `.regex()` too) and isUserId. The
 * server part is the longest suffix after a `:` that has the shape of a server name (event ids
 * may hold `:` in their opaque part; `$x:evil.test:8448` is served by `evil.test:8448`).
 */
/**
 * Strings a check accepted lately (at most `max`, then it starts again): events name the same few
 * servers and ids event after event, and each check splits, matches and builds arrays (issue #17).
 * Only acceptances are kept, so a peer sending many strings costs what it cost before, never memory.
 */
class Accepted {
  private readonly known = new Set<string>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  check(value: string, accepts: (value: string) => boolean): boolean {
    if (this.known.has(value)) return true;
    if (!accepts(value)) return false;
    if (this.known.size >= this.max) this.known.clear();
    this.known.add(value);
    return true;
  }
}

class IdGrammar extends RegExp {
  /** Ids that matched lately (no pattern here has the `g` or `y` flag: a match does not depend on `lastIndex`). */
  private readonly known = new Accepted(256);

  override test(value: string): boolean {
    return this.known.check(String(value), (text) => this.exec(text) !== null);
  }

  override exec(text: string): RegExpExecArray | null {
    const match = super.exec(text);
    if (match === null) return null;
    const server = idServerPart(text);
    return server !== undefined && isServerName(server) ? match : null;
  }
}

function idServerPart(id: string): string | undefined {
  for (let colon = id.indexOf(':'); colon >= 0; colon = id.indexOf(':', colon + 1)) {
    const rest = id.slice(colon + 1);
    if (SERVER_NAME.test(rest)) return rest;
  }
  return undefined;
}
/** Letters and marks that render as nothing (Hangul fillers, the combining grapheme joiner): never in an id. */
const INVISIBLE_LETTERS = '\\u034f\\u115f\\u1160\\u3164\\uffa0';
export const USER_ID: RegExp = new IdGrammar(`^@[a-z0-9._=\\-/]{1,64}:(${SERVER_NAME_SOURCE})$`);
/**
 * A user of a Paracord reference server: its usernames are 2-32 characters that are Unicode
 * `is_alphanumeric()` or `_` (paracord-util/src/validation.rs:15-27), so upper case and non-ASCII
 * letters occur. `\p{L}`/`\p{N}` hold no control, bidi or invisible character (the few letters
 * that render as nothing are excluded). Accepted only as the sender of an event whose origin
 * speaks the reference dialect, or as a user of such a server (isUserIdOfAnyDialect + a dialect check).
 */
export const REFERENCE_USER_ID: RegExp = new IdGrammar(`^(?!.*[${INVISIBLE_LETTERS}])@[\\p{L}\\p{N}_]{1,64}:(${SERVER_NAME_SOURCE})$`, 'u');
export const ROOM_ID: RegExp = new IdGrammar(`^![A-Za-z0-9._~-]{1,128}:(${SERVER_NAME_SOURCE})$`);
/**
 * An event id: `$<opaque>:<server>`. The opaque part may hold `:` and non-ASCII letters,
 * digits, symbols and marks (the reference's ids: `$m_reaction_add:<mid>:<emoji>:<ts>:<domain>`,
 * crates/paracord-federation/src/lib.rs:335-341, docs/REFERENCE-INTEROP-NOTES.md row 6), never a
 * control, space, bidi or invisible character (ZWJ excepted: emoji sequences). Which server an
 * id belongs to is decided by `eventIdBelongsTo` (suffix), never by the first `:`.
 */
export const EVENT_ID: RegExp = new IdGrammar(`^(?!.*[${INVISIBLE_LETTERS}])\\$[A-Za-z0-9._~\\-=+:\\p{L}\\p{N}\\p{S}\\p{M}\\u200d]{1,200}:(${SERVER_NAME_SOURCE})$`, 'u');

/**
 * The squatting rule (docs/PROTOCOL.md §Identifiers, §Event ingest): an event id belongs to `server` when it ends with
 * `:<server>`. With a reference peer, `server` may also be the `domain` its owner bound to it
 * when adding it (docs/PROTOCOL.md "Interop with the Paracord reference").
 */
export function eventIdBelongsTo(eventId: string, server: string): boolean {
  return server.length > 0 && eventId.length > server.length + 2 && eventId.endsWith(`:${server}`) && EVENT_ID.test(eventId);
}
export const HEX_PUBLIC_KEY = /^[0-9a-f]{64}$/;
export const HEX_SIGNATURE = /^[0-9a-f]{128}$/;

export const MAX_SERVER_NAME_LENGTH = 255;

/* ---- server names: the ONE canonicaliser (docs/PROTOCOL.md "Identifiers", docs/SECURITY.md §8) ----
 * A server name is `host[:port]` where host is
 *   - a DNS name: lowercase labels `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?` joined by dots, no trailing
 *     dot, and whose LAST label is not numeric or `0x…` (a WHATWG URL parser would read such a
 *     name as an IPv4 address: `2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1` are 127.0.0.1);
 *   - an IPv4 address in canonical dotted-quad form only (four decimal parts 0–255, no leading zeros);
 *   - an IPv6 address in brackets, in its RFC 5952 form (lowercase, compressed).
 * The optional port is 1–65535 in decimal without leading zeros.
 */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DOTTED_QUAD_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const PORT = /^[1-9][0-9]{0,4}$/;

function canonicalIpv4(host: string): string | null {
  const parts = host.split('.');
  if (parts.length !== 4) return null;
  for (const part of parts) if (!DOTTED_QUAD_PART.test(part) || Number(part) > 255) return null;
  return host;
}

function canonicalIpv6(inner: string): string | null {
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(inner)) return null;
  try {
    // The WHATWG URL parser validates IPv6 and serializes it in RFC 5952 form.
    const host = new URL(`http://[${inner}]/`).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : null;
  } catch {
    return null;
  }
}

function canonicalHost(host: string): string | null {
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return null;
    const inner = canonicalIpv6(host.slice(1, -1));
    return inner === null ? null : `[${inner}]`;
  }
  const lower = host.toLowerCase();
  const labels = lower.split('.');
  if (labels.some((label) => !DNS_LABEL.test(label))) return null;
  const last = labels[labels.length - 1]!;
  // Anything a URL parser would take for an IPv4 address must be the canonical dotted quad.
  if (/^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) return canonicalIpv4(lower);
  return lower;
}

/**
 * The canonical form of a server name (DNS names lowercased, IPv6 compressed), or null when the
 * text is not a server name in any accepted spelling. Use it where a human typed the name (admin
 * API, CLI); the wire accepts only names that are already canonical (isServerName).
 */
export function canonicalServerName(value: string): string | null {
  if (value.length === 0 || value.length > MAX_SERVER_NAME_LENGTH) return null;
  let host = value;
  let port: string | undefined;
  const bracketEnd = value.startsWith('[') ? value.indexOf(']') : -1;
  const colon = value.startsWith('[') ? (bracketEnd >= 0 && value[bracketEnd + 1] === ':' ? bracketEnd + 1 : -1) : value.indexOf(':');
  if (value.startsWith('[') && bracketEnd < 0) return null;
  if (value.startsWith('[') && colon < 0 && bracketEnd !== value.length - 1) return null;
  if (colon >= 0) {
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) return null;
  }
  const canonical = canonicalHost(host);
  if (canonical === null) return null;
  const result = port === undefined ? canonical : `${canonical}:${port}`;
  return result.length > MAX_SERVER_NAME_LENGTH ? null : result;
}

/** Names already found canonical (the canonicaliser ran several times per received event). */
const knownServerNames = new Accepted(512);

/** Whether a value is a server name in canonical form (what the wire accepts). */
export function isServerName(value: string): boolean {
  return knownServerNames.check(value, (name) => canonicalServerName(name) === name);
}

/** The host part of a canonical server name (without port; IPv6 keeps its brackets). */
export function serverNameHost(name: string): string {
  const colon = name.startsWith('[') ? name.indexOf(']:') + 1 : name.indexOf(':');
  return colon > 0 ? name.slice(0, colon) : name;
}

/** The server part of `@user:server`, `!room:server` or `$event:server`. */
export function serverOf(id: string): string {
  const colon = id.indexOf(':');
  return colon < 0 ? '' : id.slice(colon + 1);
}

/** Longest user id accepted anywhere (wire, admin API, stored state). */
export const MAX_USER_ID_LENGTH = 255;

/**
 * The one check of a user id (issue #14 item 10): every user id — an event's sender, the
 * state_key of membership events, invitees, `user_id` of join/leave bodies, admin API user ids
 * — goes through this. The grammar is ASCII only, so no bidi control, invisible or control
 * character can be part of a user id.
 */
export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_USER_ID_LENGTH && USER_ID.test(value);
}

/**
 * A user id of our grammar, or of a Paracord reference server's (REFERENCE_USER_ID). Where this
 * is accepted, the caller must also check that a non-`isUserId` id belongs to a reference peer.
 */
export function isUserIdOfAnyDialect(value: unknown): value is string {
  return isUserId(value) || (typeof value === 'string' && value.length <= MAX_USER_ID_LENGTH && REFERENCE_USER_ID.test(value));
}

/**
 * Characters a peer must not put into a display string (room names, reaction keys), by Unicode
 * property, not by a hand-made list (issue #14 item 10; red team "invisible names"): controls
 * (Cc), every format character (Cf: bidi controls and marks, zero-width characters, soft hyphen,
 * U+180E, tags, U+1D173…, U+13430…, U+1BCA0…), private use (Co), unassigned (Cn), surrogates,
 * line/paragraph separators (Zl, Zp), every default-ignorable code point (U+034F, Hangul fillers,
 * U+17B4/U+17B5, Mongolian FVS, U+115F/U+1160/U+3164/U+FFA0…) and every variation selector.
 */
const UNSAFE_DISPLAY = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}]/u;
/**
 * In a reaction key, what emoji sequences need: VS15/VS16 right after an emoji, a skin-tone
 * modifier's neighbour, and U+200D between two emoji (👨‍👩‍👧, ❤️‍🔥). Removed before the check.
 */
const EMOJI_JOINERS = /(?<=\p{Emoji})[\uFE0E\uFE0F]|(?<=\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic})|(?<=\u{1F3F4})\u{E0067}\u{E0062}(?:\u{E0065}\u{E006E}\u{E0067}|\u{E0073}\u{E0063}\u{E0074}|\u{E0077}\u{E006C}\u{E0073})\u{E007F}/gu;
/** In a name, only the presentation selectors right after an emoji ("❤️ Family" as phones type it). */
const EMOJI_PRESENTATION = /(?<=\p{Emoji})[\uFE0E\uFE0F]/gu;
/** At least one character must show: a letter, digit, punctuation or symbol that is not a blank look-alike. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;
const BLANK_LOOKALIKES = /[\u2800\u3164\u115F\u1160\uFFA0]/gu;

function hasVisible(value: string): boolean {
  return VISIBLE.test(value.replace(BLANK_LOOKALIKES, ''));
}

/**
 * A room name (or other label a peer chooses and others see): normal Unicode, but nothing
 * that reorders or hides text — no control, format (bidi, zero-width joiners), invisible or
 * unassigned characters, no variation selector except VS15/VS16 right after an emoji — and,
 * unless empty, at least one visible character.
 */
export function isSafeDisplayName(value: string): boolean {
  const bare = value.replace(EMOJI_PRESENTATION, '');
  return !UNSAFE_DISPLAY.test(bare) && (value.length === 0 || hasVisible(bare));
}

/**
 * A reaction key: like a name, but variation selectors and U+200D inside emoji sequences are
 * allowed, and the tags of the three subdivision flags Unicode recommends (🏴 then the tags of
 * gbeng, gbsct or gbwls and the cancel tag: England, Scotland, Wales). Any other tag is refused:
 * a run of them after flag after flag would carry text nobody sees.
 */
export function isSafeReactionKey(value: string): boolean {
  const bare = value.replace(EMOJI_JOINERS, '');
  return !UNSAFE_DISPLAY.test(bare) && hasVisible(bare);
}

/** What isSafeDisplayName refuses, removed (for names that reach us inside data we cannot refuse). */
export function stripUnsafeDisplay(value: string): string {
  return value.replace(new RegExp(UNSAFE_DISPLAY.source, 'gu'), '');
}

/** At most `max` characters (code points), counted without building an array of them. */
export function atMostCodePoints(s: string, max: number): boolean {
  if (s.length <= max) return true; // never more code points than UTF-16 units
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a surrogate pair is one character
    }
    if (++count > max) return false;
  }
  return true;
}
