/**
 * Text that reached us from the network (a peer's refusal, an answer of our own node carrying
 * one, a file someone else made) is never printed, logged or answered raw (issue #37 item 11;
 * SECURITY.md "A local user on the same machine"). Control characters — C0 and C1, ESC (screen
 * clears, OSC 52 clipboard writes, colours), CR and LF (a fake "OK" line), DEL — bidi overrides
 * and isolates, and line or paragraph separators are shown escaped (`\x1b`, `\u202e`), broken
 * surrogates are replaced, and the text is cut to a length. One function for every use.
 */

// eslint-disable-next-line no-control-regex -- the control characters are the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** What JSON.stringify leaves raw of UNSAFE (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const escapeChar = (c: string): string => {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `text` safe for a terminal, a log line or an error message: escaped as above, at most `max` characters of it. */
export function cleanText(text: string, max = 500): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE, escapeChar);
}

/** JSON for a terminal: JSON.stringify, with the characters it leaves raw escaped as \uXXXX (still the same JSON). */
export function terminalJson(value: unknown): string {
  return escapedJson(JSON.stringify(value));
}

/** JSON text with the characters JSON.stringify leaves raw escaped as \uXXXX: the same JSON, safe to show. */
export function escapedJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A peer's error code, when it looks like one (`snake_case`, short); null otherwise. Shown as a detail, never used as ours. */
export function peerCode(value: unknown): string | null {
  return typeof value === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(value) ? value : null;
}

/**
 * A schema's first complaint about what a peer sent, as words: `path: message`, cut and escaped.
 * Both parts can hold the peer's own text (a strict object's unknown keys are named in the message,
 * a record's keys are path elements), megabytes of it: stored raw, it was an outbox row's error on
 * every retry (a red-team review, 2026-11-30). Every peer-sent value a schema refuses is worded here.
 */
export function schemaIssueText(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, fallback = 'not valid', max = 200): string {
  const issue = issues[0];
  if (!issue) return fallback;
  const path = issue.path.map((p) => cleanText(String(p), 40)).join('.');
  return cleanText(path ? `${path}: ${issue.message}` : issue.message, max);
}
