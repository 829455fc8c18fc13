import type { AdminHandlers, MailboxView } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { WaitingHere } from '../../../mailbox/carried-retries.ts';
import type { HeldFor } from '../../../mailbox/mailbox-store.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

type Waiting = MailboxView['waiting_here'][number];

/** Why a friend's requests fetched from a mailbox wait here, from our listener's last answer to the oldest. */
function waitingReason(status: number | null, error: string | null): Waiting['reason'] {
  if (status === null) return 'queued';
  if (status === 429) return error === 'quota_exceeded' ? 'quota' : 'rate_limit';
  if (status === 503 && (error === 'keys_unavailable' || error === 'keys_recently_fetched')) return 'keys';
  return 'failure';
}

function waitingWords(w: WaitingHere): Waiting {
  const reason = waitingReason(w.last_status, w.last_error);
  const why = {
    rate_limit: `over the rate limit this node gives ${w.from_server}`,
    quota: `over the daily storage quota this node gives ${w.from_server}`,
    keys: `${w.from_server}'s keys cannot be read right now`,
    failure: 'this node could not store them (see details)',
    queued: 'next in line to be taken',
  }[reason];
  return {
    server_name: w.from_server, mailbox: w.mailbox, requests: w.requests, reason, next_at: w.next_at, last_error: w.last_error,
    text: `${plural(w.requests, 'request')} from ${w.from_server}, fetched from ${w.mailbox}'s mailbox, wait here to be taken: ${why}`,
  };
}

/**
 * What we hold for a friend, in words; those it fetched and keeps to take in later (they stay
 * here until it names them settled, so that their depositor does not read them delivered) said apart.
 */
function holdingWords(h: HeldFor): string {
  const held = `Holding ${plural(h.items, 'request')} for ${h.recipient}`;
  if (h.fetched === 0) return held;
  if (h.fetched === h.items) return `${held}: ${h.recipient} fetched ${h.items === 1 ? 'it' : 'them'} and takes ${h.items === 1 ? 'it' : 'them'} in later`;
  return `${held}: ${h.recipient} fetched ${h.fetched} of them and takes ${h.fetched === 1 ? 'it' : 'those'} in later`;
}

/** A friend's node as a mailbox (issue #32): what we hold for whom, where we fetch ours, the owner's switch. */
export function mailboxOperations(node: NodeContext): Pick<AdminHandlers, 'getMailbox' | 'setMailbox'> {
  const view = (): MailboxView => ({
    enabled: node.settings.get('mailbox_enabled') !== 'off',
    holding: node.mailbox.store.held().map((h) => ({
      server_name: h.recipient, items: h.items, bytes: h.bytes, oldest_at: h.oldest, fetched: h.fetched,
      text: holdingWords(h),
    })),
    sources: node.mailbox.sources().map((s) => ({ server_name: s.server_name, last_fetch_at: s.last_fetch_at, last_error: s.last_error })),
    waiting_here: node.mailbox.waitingHere().map(waitingWords),
  });
  return {
    getMailbox: async () => view(),
    setMailbox: async ({ enabled }) => {
      node.settings.set('mailbox_enabled', enabled ? 'on' : 'off');
      node.log.info({ event: enabled ? 'mailbox_enabled' : 'mailbox_disabled' }, enabled ? 'friends may use this node as their mailbox' : 'friends may no longer use this node as their mailbox');
      node.notifications.notify({ type: 'status' });
      return view();
    },
  };
}
