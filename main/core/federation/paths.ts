/**
 * Every federation path and discovery capability name, declared once (docs/PROTOCOL.md): the
 * routes that serve them and the clients that call them import them from here.
 */

/** Every version of the federation API lives under it (pausing federation closes it all, keys aside). */
export const FEDERATION_ROOT = '/_paracord/federation';
/** The path every federation route lives under; a reference names it as its endpoint. */
export const FEDERATION_PREFIX = `${FEDERATION_ROOT}/v1`;
/** Discovery: a server's document (not under the prefix). */
export const WELL_KNOWN_PATH = '/.well-known/paracord/server';

// ——— keys ———
export const KEYS_PATH = '/_paracord/federation/v1/keys';
/** Keys of other servers a peer holds (relayed keys). */
export const KEY_CACHE_PATH = '/_paracord/federation/v1/keys/cache';

// ——— events ———
/** `POST`: one signed event; `GET /event/:event_id`: fetch one. */
export const EVENT_PATH = '/_paracord/federation/v1/event';
/** `POST`: a batch of events (to a peer that advertises `batch`); `GET`: a room's catch-up page. */
export const EVENTS_PATH = '/_paracord/federation/v1/events';

/**
 * `GET ?room_id=&since_depth=&since_event_id=&limit=`: a member serves a room's host the events
 * of that host's own origin it holds (a host restored from a backup recovers what it sent after
 * it; docs/PROTOCOL.md §Recovering a restored host's own events). Only to that host.
 */
export const OWN_EVENTS_PATH = '/_paracord/federation/v1/own-events';

// ——— rooms: invites, joins, leaves ———
/** With an invitee: the host tells a server one of its users is invited; without: a join preflight. */
export const INVITE_PATH = '/_paracord/federation/v1/invite';
export const JOIN_PATH = '/_paracord/federation/v1/join';
export const LEAVE_PATH = '/_paracord/federation/v1/leave';
/** A host's answer to a join that came through a mailbox (issue #32): the snapshot, carried back. */
export const JOIN_ANSWER_PATH = '/_paracord/federation/v1/join-answer';

// ——— peering ———
/** The https form of a peer invite link (`https://<endpoint>/_paracord/peer#<payload>`): a page that says to paste it into Paracord. */
export const PEER_LINK_PATH = '/_paracord/peer';
export const PEERING_PATH = '/_paracord/federation/v1/peering';
/** The inviter's answer to a peering request that came through a mailbox (issue #32). */
export const PEERING_ANSWER_PATH = '/_paracord/federation/v1/peering/answer';

// ——— reachability, pull mode, mailboxes (issue #32) ———
export const REACH_PROBE_PATH = '/_paracord/federation/v1/reach-probe';
/**
 * `GET <this>/<nonce>` (unsigned): the prober fetches the probe's nonce from the caller's
 * listener, which is what proves the caller reachable (docs/PROTOCOL.md §Reachability).
 */
export const REACH_ECHO_PATH = '/_paracord/federation/v1/reach-probe/echo';
export const PULL_PATH = '/_paracord/federation/v1/pull';
export const PULL_ACK_PATH = '/_paracord/federation/v1/pull/ack';
export const MAILBOX_PATH = '/_paracord/federation/v1/mailbox';
export const MAILBOX_ACK_PATH = '/_paracord/federation/v1/mailbox/ack';
export const MAILBOX_DEPOSIT_PATH = '/_paracord/federation/v1/mailbox/deposit';
export const MAILBOX_ACCEPTS_PATH = '/_paracord/federation/v1/mailbox/accepts';
/** A depositor asks which of its deposits are still held (not yet taken by their recipient). */
export const MAILBOX_HELD_PATH = '/_paracord/federation/v1/mailbox/held';

// ——— discovery capabilities ———
/** Takes `POST /events` batches of up to 100 events. */
export const BATCH_CAPABILITY = 'batch';
/**
 * Takes batches of up to 500 (our nodes since issue #17: with 100, a burst paid a round trip per
 * 100 events in which the two nodes took turns; docs/PERFORMANCE.md).
 */
export const LARGE_BATCH_CAPABILITY = 'batch_500';
/** "I bind my signed requests to their destination, and check yours". */
export const DESTINATION_BINDING_CAPABILITY = 'destination_binding';
/** Receives by pull: its peers queue its events for it to fetch (pull/). */
export const PULL_CAPABILITY = 'pull';
/** Keeps mail for its peers that nobody reaches (mailbox/). */
export const MAILBOX_CAPABILITY = 'mailbox';
/**
 * A mailbox that takes `POST /mailbox/ack {cursor, refused}` (the events of carried requests its
 * recipient refused for good) and answers `POST /mailbox/held {ids, refused: true}` with them, so
 * their depositor marks those entries failed, not delivered (mailbox/routes.ts). An older mailbox
 * validates both bodies strictly: neither side sends the field to one that does not advertise this.
 */
export const MAILBOX_REFUSALS_CAPABILITY = 'mailbox_refusals';
/**
 * A mailbox that takes `POST /mailbox/ack {cursor, waiting, settled}`: the items its recipient took
 * but keeps to hand over again later ("not yet" there) stay held here past the ack until an ack
 * names them settled (or their week ends), and `POST /mailbox/held {ids, waiting: true}` names
 * them apart, so their depositor reads them as neither delivered nor still at the mailbox until
 * the recipient's last word (mailbox/routes.ts). Sent only to a mailbox that advertises this.
 */
export const MAILBOX_WAITING_CAPABILITY = 'mailbox_waiting';
/**
 * Takes `POST /pull/ack {cursor, refused}`: the events of the acknowledged pages the puller
 * refused for good, marked failed (not delivered) on our side (pull/routes.ts). An older node's
 * ack schema is strict and answers 400 to the field: a puller sends it only to a peer that
 * advertises this.
 */
export const PULL_REFUSALS_CAPABILITY = 'pull_refusals';
/** A puller may name the events it holds for review in its ack (`POST /pull/ack {held}`): pull/routes.ts. */
export const PULL_HELD_CAPABILITY = 'pull_held';
/**
 * Serves `GET /own-events` (OWN_EVENTS_PATH): a restored host asks only members that advertise
 * this (an older node would answer 404).
 */
export const OWN_EVENTS_CAPABILITY = 'own_events';
