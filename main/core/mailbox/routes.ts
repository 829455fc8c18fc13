/**
 * The mailbox's federation routes (issue #32, docs/PROTOCOL.md "Mailboxes"), all signed:
 *  - `GET  /mailbox/accepts/{recipient}`: whether we hold mail for that peer, with its signed
 *    statement that it chose us (choice.ts; asked before any content is sent: a sender shows a
 *    request's content only to a mailbox whose statement it checked);
 *  - `POST /mailbox/deposit/{recipient}/{event|events}`: a depositor leaves one signed request for
 *    the recipient: the raw body it would have pushed, its own signature of that request bound to
 *    the recipient in `X-Paracord-Inner-*` headers; stored, answered `{id}` once durable; one
 *    depositor may fill at most half of what we keep for a recipient, and deposit at a limited rate;
 *  - `GET  /mailbox?cursor=&limit=`: the caller's items after the cursor (long-polled when empty);
 *    the first fetch makes the caller a client (it chose us); its `X-Paracord-Mailbox-Choice`
 *    header carries its signed statement of that choice, kept to show senders;
 *  - `POST /mailbox/ack {cursor, refused?, waiting?, settled?}`: deletes the caller's items up to
 *    the cursor, keeping what it says it refused of them for their depositors (capability
 *    `mailbox_refusals`), and those it keeps to take later until it names them settled (capability
 *    `mailbox_waiting`);
 *  - `POST /mailbox/held {ids, refused?, waiting?}`: which of the caller's own deposits are still
 *    held here, what their recipient refused of those it took, and (named apart) which it took
 *    but keeps to take later.
 */
import Router from '../http/router.ts';
import { z } from 'zod';
import { wholeNumber } from '../../../shared/contract/whole-number.ts';
import { HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import { formatZodError } from '../admin/format-zod-error.ts';
import { HttpError, badRequest, forbidden, notFound } from '../errors.ts';
import { parseJsonBody } from '../http/read-body.ts';
import { verify } from '../crypto/ed25519.ts';
import { signingString } from '../federation/request-signature.ts';
import type { FederationDeps } from '../federation/federation-deps.ts';
import type { SignedRequestState } from '../federation/middleware/verify-signed-request.ts';
import { utf8Bytes } from '../federation/page-budget.ts';
import { cursorSchema } from '../pull/routes.ts';
import { DEFAULT_MAILBOX_QUOTA, MAILBOX_MAX_AGE_MS, STRANGERS_SHARE, depositorShare, type MailboxStore, type RefusedItem } from './mailbox-store.ts';
import { REFUSAL_CODE, carriedEventIds } from './carried-refusals.ts';
import { MAX_ACK_REFUSALS } from '../federation/page-acks.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { MAILBOX_CHOICE_HEADER, checkChoice, decodeChoice } from './choice.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { perPeerLimit } from '../federation/middleware/peer-limit.ts';
import type { RateLimit } from '../trust/rate-limiter.ts';
import { INNER_KEY_ID, INNER_SIGNATURE, INNER_TIMESTAMP, CARRIED_PATHS, MAX_HELD_IDS, MAX_MAILBOX_ITEMS, type CarriedKind } from './wire.ts';
import { MAILBOX_ACCEPTS_PATH, MAILBOX_ACK_PATH, MAILBOX_DEPOSIT_PATH, MAILBOX_HELD_PATH, MAILBOX_PATH } from '../federation/paths.ts';
import { ownValue } from '../../../shared/own-value.ts';

/** A page of items stays small (latency), like a pull page. */
const MAX_PAGE_BYTES = 512 * 1024;
const DEFAULT_WAIT_MS = 25_000;
/** A request older than this (its own timestamp) cannot be deposited: it would expire unread. */
const MAX_INNER_AGE_MS = MAILBOX_MAX_AGE_MS;

export interface MailboxRouteDeps {
  store: MailboxStore;
  /** The owner's choice: let friends use this node as their mailbox (on by default). */
  enabled: () => boolean;
  quota?: { items: number; bytes: number };
  /** Deposits per depositor (all recipients together); more answer 429 with Retry-After. */
  depositLimit?: RateLimit;
  waitMs?: number;
}

/** Per depositor: 3,000 deposits a minute at most (a batch of events is one deposit). */
export const DEFAULT_DEPOSIT_LIMIT: RateLimit = { per_second: 50, burst: 3000 };

const querySchema = z.strictObject({
  cursor: z.union([z.literal(''), cursorSchema]).optional().transform((c) => (c === '' || c === undefined ? 0 : c)),
  limit: wholeNumber(1, MAX_MAILBOX_ITEMS).default(MAX_MAILBOX_ITEMS),
});
/**
 * An ack's refusals (`refused`, capability MAILBOX_REFUSALS_CAPABILITY): events of carried items
 * the recipient refused for good, each named with its item's id; at most MAX_ACK_REFUSALS, each a
 * final 4xx (429 is "not yet") and an error code, no words of the recipient's.
 */
const itemRefusalSchema = z.strictObject({
  id: z.string().regex(/^[0-9]{1,15}$/, 'id must be an item id from a fetch'),
  event_id: z.string().min(1).max(255),
  status: z.number().int().min(400).max(499).refine((status) => status !== 429, '429 is no refusal'),
  error: z.string().regex(REFUSAL_CODE, 'error must be a code of 1 to 64 letters a-z and _'),
});
const itemIdsSchema = z.array(z.string().regex(/^[0-9]{1,15}$/, 'an item id from a fetch')).max(MAX_ACK_REFUSALS);
/**
 * `waiting`, `settled` (capability MAILBOX_WAITING_CAPABILITY): items up to the cursor the
 * recipient took but keeps to take later (kept here past the ack), and those it is done with.
 */
const ackSchema = z.strictObject({ cursor: cursorSchema, refused: z.array(itemRefusalSchema).max(MAX_ACK_REFUSALS).optional(), waiting: itemIdsSchema.optional(), settled: itemIdsSchema.optional() });
const heldSchema = z.strictObject({
  ids: z.array(z.string().regex(/^[0-9]{1,15}$/, 'an id from a deposit answer')).min(1).max(MAX_HELD_IDS),
  refused: z.boolean().optional(),
  waiting: z.boolean().optional(),
});

/**
 * The refusals of an ack, checked before anything changes: each names an item up to the cursor
 * (else 400 `unknown_item`), and an item held here for the caller must carry that event (else 400
 * `unknown_item`: a recipient speaks only of what it was given). Only the caller's own items up to
 * the cursor are looked up, by index, against the event ids noted at deposit (no body is read: at
 * most two index lookups per refusal). An item held for another recipient is left out exactly as
 * one not held any more (an earlier ack took it, its week passed): nothing is said of it, and the
 * caller learns nothing of other recipients' items. So is one with no event noted (deposited before
 * they were).
 */
function checkRefusals(store: MailboxStore, recipient: string, cursor: number, refused: ReadonlyArray<z.infer<typeof itemRefusalSchema>>) {
  const checked: Array<{ item: RefusedItem; event_id: string; status: number; error: string }> = [];
  for (const [i, r] of refused.entries()) {
    if (Number(r.id) > cursor) throw badRequest('unknown_item', `refused[${i}]: item ${r.id} is after the cursor ${cursor}`);
  }
  for (const [i, r] of refused.entries()) {
    const found = store.carriedBy(recipient, cursor, Number(r.id), r.event_id);
    if (found === null || (!found.carries && !found.noted)) continue;
    if (!found.carries) throw badRequest('unknown_item', `refused[${i}]: item ${r.id} carries no event ${cleanText(r.event_id, 80)}`);
    checked.push({ item: found.item, event_id: r.event_id, status: r.status, error: r.error });
  }
  return checked;
}

export function mailboxRoutes(deps: FederationDeps): Router {
  const router = new Router();
  const mailbox = deps.mailbox;
  /** Taking new mail needs the owner's consent; handing out what was taken does not (switched off, it drains). */
  const need = (taking = true): MailboxRouteDeps => {
    if (!mailbox) throw notFound('not_supported', 'this server does not serve as a mailbox');
    if (taking && !mailbox.enabled()) throw forbidden('mailbox_off', `the owner of ${deps.identity.serverName} does not let friends use it as their mailbox`);
    return mailbox;
  };
  /** The recipient must be a peer that chose us (it fetches from us) and that we still allow. */
  const serves = (box: MailboxRouteDeps, recipient: string, depositor: string): boolean =>
    recipient !== depositor && recipient !== deps.identity.serverName && box.store.isClient(recipient) && deps.mailboxPeerAllowed?.(recipient) === true;

  router.get(`${MAILBOX_ACCEPTS_PATH}/:recipient`, deps.verifySignedRequest, async (ctx) => {
    const box = need();
    const state = ctx.state as SignedRequestState;
    state.replayAnswerEarly = true;
    const recipient = String(ctx.params.recipient ?? '').toLowerCase();
    if (!isServerName(recipient)) throw badRequest('invalid_request', 'recipient: not a server name');
    // Not to a depositor the owner quarantines: its deposit would be refused (403 origin_quarantined).
    const accepts = !state.quarantined && serves(box, recipient, state.origin);
    // The recipient's own signed word that it chose us: a sender leaves nothing here without it.
    const choice = accepts ? box.store.choiceOf(recipient) : null;
    ctx.body = { accepts, ...(choice !== null ? { choice: JSON.parse(choice) as unknown } : {}) };
  });

  router.post(`${MAILBOX_DEPOSIT_PATH}/:recipient/:kind`, deps.verifySignedRequest, perPeerLimit(deps.limiter, 'mailbox-deposit', mailbox?.depositLimit ?? DEFAULT_DEPOSIT_LIMIT, 'mailbox deposits'), async (ctx) => {
    const box = need();
    const state = ctx.state as SignedRequestState;
    const recipient = String(ctx.params.recipient ?? '').toLowerCase();
    const kind = String(ctx.params.kind ?? '') as CarriedKind;
    if (!isServerName(recipient)) throw badRequest('invalid_request', 'recipient: not a server name');
    const path = ownValue(CARRIED_PATHS, kind);
    if (!path) throw badRequest('invalid_request', `a mailbox carries only ${Object.keys(CARRIED_PATHS).join(' and ')} requests`);
    if (!serves(box, recipient, state.origin)) throw forbidden('not_a_mailbox_for', `${deps.identity.serverName} is not a mailbox of ${recipient}`);
    // A depositor the owner quarantines keeps its mail (it tries again, or another mailbox): no side door onto our disk meanwhile.
    if (state.quarantined) throw forbidden('origin_quarantined', `${state.origin} is quarantined by this server: it keeps nothing for it until the owner ends the quarantine`);
    // The carried request: signed by the depositor itself, with the same key, bound to the recipient.
    const keyId = ctx.get(INNER_KEY_ID);
    const timestamp = ctx.get(INNER_TIMESTAMP);
    const signature = ctx.get(INNER_SIGNATURE);
    if (!KEY_ID.test(keyId) || keyId !== state.keyId) throw badRequest('invalid_request', `${INNER_KEY_ID} must be the key this deposit is signed with`);
    if (!/^[0-9]{1,16}$/.test(timestamp)) throw badRequest('invalid_request', `${INNER_TIMESTAMP} must be unix milliseconds`);
    const age = Date.now() - Number(timestamp);
    if (age > MAX_INNER_AGE_MS || age < -60_000) throw badRequest('invalid_request', `${INNER_TIMESTAMP} is too far from this server's clock`);
    if (!HEX_SIGNATURE.test(signature)) throw badRequest('invalid_request', `${INNER_SIGNATURE} must be 128 lowercase hex characters`);
    const body = state.rawBody;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw badRequest('invalid_request', 'the carried body must be UTF-8');
    }
    const key = deps.keys.lookupNow(state.origin, keyId, { purpose: 'request' });
    if (!key?.ok) throw forbidden('unknown_key', `no current key ${keyId} of ${state.origin}`);
    const signed = Buffer.from(signingString('POST', path, Number(timestamp), body, recipient), 'utf8');
    if (!verify(Buffer.from(signature, 'hex'), signed, Buffer.from(key.key.public_key, 'hex'))) {
      throw forbidden('bad_signature', `the carried request's signature does not verify with ${state.origin}'s key ${keyId}`);
    }
    // The events it carries, read once here: what its recipient's refusals may name (checked by index at its ack).
    const events = carriedEventIds(path, text);
    const quota = box.quota ?? DEFAULT_MAILBOX_QUOTA;
    const share = depositorShare(quota);
    const id = await deps.commit.run(() => {
      const used = box.store.usage(recipient);
      if (used.items + 1 > quota.items || used.bytes + body.length > quota.bytes) {
        throw new HttpError(429, 'mailbox_full', `${deps.identity.serverName} holds as much as it takes for ${recipient} (${used.items} requests, ${used.bytes} bytes); try again later`, { 'retry-after': '60' });
      }
      // Each depositor the owner allows a share, every other one the same one share together: one
      // server, or any number of names one party makes up, cannot fill the recipient's mailbox and
      // block everyone else's mail.
      const sharedBy = deps.mailboxPeerAllowed?.(state.origin) === true ? state.origin : STRANGERS_SHARE;
      const mine = box.store.usageOf(recipient, sharedBy);
      if (mine.items + 1 > share.items || mine.bytes + body.length > share.bytes) {
        const held = `${mine.items} requests, ${mine.bytes} bytes`;
        const words = sharedBy === STRANGERS_SHARE
          ? `as much as the servers its owner has not made friends with may leave for ${recipient} together, yours among them (half of what it keeps for ${recipient})`
          : `as much as one server may leave for ${recipient} (${held} of yours: half of what it keeps for ${recipient})`;
        throw new HttpError(429, 'mailbox_share_full', `${deps.identity.serverName} holds ${words}; try again later`, { 'retry-after': '60' });
      }
      deps.replay.record(state.signature, state.origin, state.requestTs, state.replayForWeek === true);
      return box.store.deposit({ recipient, depositor: state.origin, share: sharedBy, path, headers: JSON.stringify({ key_id: keyId, timestamp: Number(timestamp), signature }), body, created_at: Date.now() }, events);
    });
    state.replayRecorded = true;
    box.store.notify(recipient);
    deps.onMailboxChange?.();
    ctx.body = { id: String(id) };
  });

  router.get(MAILBOX_PATH, deps.verifySignedRequest, async (ctx) => {
    const box = need(false);
    const state = ctx.state as SignedRequestState;
    const parsed = querySchema.safeParse(ctx.query);
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const { cursor, limit } = parsed.data;
    // The caller's statement that it chose us (checked before anything changes): kept to show senders.
    const offered = ctx.get(MAILBOX_CHOICE_HEADER);
    if (offered !== '') {
      const checked = checkChoice(decodeChoice(offered), state.origin, deps.identity.serverName, (keyId) => {
        const found = deps.keys.lookupNow(state.origin, keyId, { purpose: 'request' });
        return found?.ok ? found.key.public_key : null;
      });
      if (!checked.ok) throw badRequest('invalid_mailbox_choice', `${MAILBOX_CHOICE_HEADER}: ${checked.reason}`);
      box.store.choose(state.origin, canonicalJson(checked.choice), checked.choice.expires_at);
    }
    state.replayAnswerEarly = true;
    box.store.touch(state.origin);
    // A quarantined caller is served nothing, as by pull (pull/routes.ts): what others left for it
    // stays here until the owner ends the quarantine (docs/PROTOCOL.md §Rate limits and trust).
    let items = state.quarantined ? [] : box.store.page(state.origin, cursor, limit, MAX_PAGE_BYTES);
    if (items.length === 0) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      ctx.req.once('close', onClose);
      try {
        await box.store.wait(state.origin, box.waitMs ?? DEFAULT_WAIT_MS, gone.signal);
      } finally {
        ctx.req.off('close', onClose);
      }
      // A caller blocked while it waited gets no more (403, as any new request of it).
      state.recheck();
      items = state.quarantined ? [] : box.store.page(state.origin, cursor, limit, MAX_PAGE_BYTES);
    }
    const out: string[] = [];
    let bytes = 0;
    let last = cursor;
    for (const item of items) {
      const headers = JSON.parse(item.headers) as { key_id: string; timestamp: number; signature: string };
      const wire = JSON.stringify({ id: String(item.id), from: item.depositor, path: item.path, key_id: headers.key_id, timestamp: String(headers.timestamp), signature: headers.signature, body: item.body.toString('utf8') });
      if (out.length > 0 && bytes + utf8Bytes(wire) > MAX_PAGE_BYTES) break;
      bytes += utf8Bytes(wire);
      out.push(wire);
      last = item.id;
    }
    ctx.type = 'application/json';
    ctx.body = `{"items":[${out.join(',')}],"cursor":"${last}"}`;
  });

  // A depositor's own deposits only: which are still here (its sender says "waiting at …" until
  // they are taken), and, asked with `refused: true`, what their recipient refused of those taken.
  router.post(MAILBOX_HELD_PATH, deps.verifySignedRequest, async (ctx) => {
    const box = need(false);
    const state = ctx.state as SignedRequestState;
    const parsed = heldSchema.safeParse(parseJsonBody(state.rawBody));
    if (!parsed.success) throw badRequest('invalid_request', `body must be {"ids": ["<id from a deposit answer>", …], "refused"?: true | false} (at most ${MAX_HELD_IDS}): ${formatZodError(parsed.error)}`);
    state.replayAnswerEarly = true;
    const ids = parsed.data.ids.map(Number);
    const { refused: askRefused = false, waiting: askWaiting = false } = parsed.data;
    // Read together, before anything is awaited (an ack meanwhile could settle one between the two reads).
    const held = box.store.stillHeld(state.origin, ids);
    // Those their recipient took and keeps to take later (not at this mailbox any more, not
    // delivered yet): named apart in `waiting` when asked; to a depositor that reads refusals but
    // not these, named in `more` (neither held nor gone); said held to an older one. Said held,
    // their depositor took them for seen held now, and their events for taken late once gone.
    const waiting = askWaiting || askRefused ? new Set(box.store.waitingAmong(held)) : new Set<number>();
    const atMailbox = held.filter((id) => !waiting.has(id)).map(String);
    if (!askRefused) {
      ctx.body = askWaiting ? { held: atMailbox, waiting: [...waiting].map(String) } : { held: held.map(String) };
      return;
    }
    const still = new Set(held);
    // Items taken whose refusals do not fit this answer are named in `more` too (the depositor asks again).
    const { refused, cut } = await deps.commit.run(() => box.store.readRefusals(state.origin, ids.filter((id) => !still.has(id))));
    const more = askWaiting ? cut : [...cut, ...waiting];
    ctx.body = {
      held: atMailbox,
      refused,
      ...(more.length > 0 ? { more: more.map(String) } : {}),
      ...(askWaiting ? { waiting: [...waiting].map(String) } : {}),
    };
  });

  router.post(MAILBOX_ACK_PATH, deps.verifySignedRequest, async (ctx) => {
    const box = need(false);
    const state = ctx.state as SignedRequestState;
    const parsed = ackSchema.safeParse(parseJsonBody(state.rawBody));
    if (!parsed.success) throw badRequest('invalid_request', `body must be {"cursor": "<cursor from a fetch>", "refused"?: [{"id", "event_id", "status", "error"}], "waiting"?: ["<item id>"], "settled"?: ["<item id>"]}: ${formatZodError(parsed.error)}`);
    const { cursor, refused, waiting = [], settled = [] } = parsed.data;
    if (!box.store.isKnownCursor(cursor)) throw badRequest('unknown_cursor', 'this cursor was never given out by this server');
    const checked = refused === undefined ? [] : checkRefusals(box.store, state.origin, cursor, refused);
    for (const [field, ids] of [['waiting', waiting], ['settled', settled]] as const) {
      const after = ids.findIndex((id) => Number(id) > cursor);
      if (after >= 0) throw badRequest('unknown_item', `${field}[${after}]: item ${ids[after]} is after the cursor ${cursor}`);
    }
    // The refusals are kept in the transaction that deletes their items: a depositor asking meanwhile
    // sees its item held, or gone with what was refused of it, never gone without. Items kept
    // waiting stay; one named both waiting and settled (the recipient was done with it before this
    // ack left) goes.
    const { acknowledged, kept } = await deps.commit.run(() => {
      deps.replay.record(state.signature, state.origin, state.requestTs, state.replayForWeek === true);
      const keptNow = box.store.keepRefusals(state.origin, checked);
      box.store.keepWaiting(state.origin, waiting.map(Number), cursor);
      box.store.settle(state.origin, settled.map(Number));
      return { acknowledged: box.store.ack(state.origin, cursor), kept: keptNow };
    });
    state.replayRecorded = true;
    if (acknowledged > 0) deps.onMailboxChange?.();
    ctx.body = refused === undefined ? { acknowledged } : { acknowledged, refused: kept };
  });
  return router;
}
