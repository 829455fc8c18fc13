/**
 * A recipient's choice of a mailbox (issue #32, docs/PROTOCOL.md "Mailboxes"): a statement signed
 * by the recipient with its own key, the same way its links are signed (ed25519 over the canonical
 * JSON of every member but `sig`): "`mailbox` keeps mail for `recipient` until `expires_at`". The
 * recipient hands it to each mailbox it fetches from (the `X-Paracord-Mailbox-Choice` header of its
 * signed `GET /mailbox`); the mailbox shows it in its `accepts` answer; a sender leaves a request
 * at a mailbox only when checkChoice below says the statement is the recipient's own, names that
 * mailbox and is current. Any other peer of the sender that says it holds mail for the recipient
 * gets nothing.
 */
import { z } from 'zod';
import { HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { verify } from '../crypto/ed25519.ts';
import type { Identity } from '../identity/identity.ts';
import { schemaIssueText } from '../util/untrusted-text.ts';

/** The header of `GET /mailbox` that carries the fetching recipient's statement (base64url of its canonical JSON). */
export const MAILBOX_CHOICE_HEADER = 'X-Paracord-Mailbox-Choice';
/** A statement holds this long (as long as a mailbox keeps a client that stopped fetching). */
export const CHOICE_LIFETIME_MS = 7 * 24 * 3600_000;
/** A recipient signs a new one when its statement is older than this (so a mailbox's copy is never much older). */
export const CHOICE_RENEW_MS = 3600_000;
/** How far ahead of our clock a statement may say it was made. */
const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_HEADER_CHARS = 2048;

const serverName = z.string().max(255).refine(isServerName, 'not a server name');
export const mailboxChoiceSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('paracord.mailbox_choice'),
  recipient: serverName,
  mailbox: serverName,
  key_id: z.string().regex(KEY_ID),
  issued_at: z.number().int().positive(),
  expires_at: z.number().int().positive(),
  sig: z.string().regex(HEX_SIGNATURE),
});
export type MailboxChoice = z.infer<typeof mailboxChoiceSchema>;

/** The recipient's side: its statement that `mailbox` keeps its mail. */
export function signChoice(identity: Identity, mailbox: string, now = Date.now()): MailboxChoice {
  const unsigned = { v: 1 as const, kind: 'paracord.mailbox_choice' as const, recipient: identity.serverName, mailbox, key_id: identity.keyId, issued_at: now, expires_at: now + CHOICE_LIFETIME_MS };
  return { ...unsigned, sig: identity.signHex(Buffer.from(canonicalJson(unsigned), 'utf8')) };
}

export const encodeChoice = (choice: MailboxChoice): string => Buffer.from(canonicalJson(choice), 'utf8').toString('base64url');

/** The header's text as a value to check (undefined when it is not base64url JSON). */
export function decodeChoice(header: string): unknown {
  if (header.length > MAX_HEADER_CHARS || !/^[A-Za-z0-9_-]+$/.test(header)) return undefined;
  try {
    return JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

export type CheckedChoice = { ok: true; choice: MailboxChoice } | { ok: false; reason: string };

/**
 * The one check of a statement, whoever holds it (a peer's word until here): its shape, that it
 * is `recipient`'s choice of `mailbox`, current, and signed with the recipient's key `keyOf`
 * gives for its key id (a key we hold for it, or the one its link names), never a key it carries.
 */
export function checkChoice(raw: unknown, recipient: string, mailbox: string, keyOf: (keyId: string) => string | null, now = Date.now()): CheckedChoice {
  const parsed = mailboxChoiceSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `its statement is not a mailbox choice (${schemaIssueText(parsed.error.issues)})` };
  const choice = parsed.data;
  if (choice.recipient !== recipient || choice.mailbox !== mailbox) return { ok: false, reason: `its statement is ${choice.recipient}'s choice of ${choice.mailbox}, not ${recipient}'s of ${mailbox}` };
  if (choice.issued_at > now + CLOCK_SKEW_MS || choice.expires_at - choice.issued_at > CHOICE_LIFETIME_MS) return { ok: false, reason: 'its statement is dated in the future or holds longer than 7 days' };
  if (choice.expires_at <= now) return { ok: false, reason: `its statement from ${recipient} expired` };
  const key = keyOf(choice.key_id);
  if (key === null) return { ok: false, reason: `its statement is signed with a key of ${recipient} this server does not hold (${choice.key_id})` };
  const { sig, ...unsigned } = choice;
  if (!verify(Buffer.from(sig, 'hex'), Buffer.from(canonicalJson(unsigned), 'utf8'), Buffer.from(key, 'hex'))) {
    return { ok: false, reason: `its statement is not signed by ${recipient}` };
  }
  return { ok: true, choice };
}

/** The recipient's statements, one per mailbox it fetches from, signed again once an hour old. */
export class ChoiceSigner {
  private readonly signed = new Map<string, { keyId: string; header: string; at: number }>();

  header(identity: Identity, mailbox: string, now = Date.now()): string {
    const held = this.signed.get(mailbox);
    if (held && held.keyId === identity.keyId && now - held.at < CHOICE_RENEW_MS) return held.header;
    const header = encodeChoice(signChoice(identity, mailbox, now));
    this.signed.set(mailbox, { keyId: identity.keyId, header, at: now });
    return header;
  }
}

/** The mailboxes a friend's link names (its own signed word), and the key it names to check their statements with. */
export interface LinkMailboxes {
  via: readonly string[];
  key_id: string;
  public_key: string;
}
