import type { AdminHandlers, MailboxView } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A friend's node as a mailbox (issue #32): what we hold for whom, where we fetch ours, the owner's switch. */
export function mailboxOperations(node: NodeContext): Pick<AdminHandlers, 'getMailbox' | 'setMailbox'> {
  const view = (): MailboxView => ({
    enabled: node.settings.get('mailbox_enabled') !== 'off',
    holding: node.mailbox.store.held().map((h) => ({
      server_name: h.recipient, items: h.items, bytes: h.bytes, oldest_at: h.oldest,
      text: `Holding ${plural(h.items, 'request')} for ${h.recipient}`,
    })),
    sources: node.mailbox.sources().map((s) => ({ server_name: s.server_name, last_fetch_at: s.last_fetch_at, last_error: s.last_error })),
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
