/**
 * The tray, as plain data (IPFS Desktop's pattern): a frozen status enum, the icon for each
 * status, and the menu template rebuilt on every status change. No electron import here, so it
 * is tested under plain Node; main.ts turns the template into a Menu.
 */
import type { NodeStatus } from '../../shared/contract/admin-operations.ts';
import { detailLines, trayProblemWords, type TrayProblem } from './tray-problem.ts';

export const TrayState = Object.freeze({
  Running: 'running',
  Degraded: 'degraded',
  Offline: 'offline',
  Paused: 'paused',
} as const);
export type TrayState = (typeof TrayState)[keyof typeof TrayState];

/** `null` status: the node does not answer (starting, crashed, or stopped). */
export function trayStateOf(status: NodeStatus | null): TrayState {
  if (!status || status.setup_required) return TrayState.Offline;
  if (status.federation.paused) return TrayState.Paused;
  if (status.queue.failed > 0) return TrayState.Degraded;
  return TrayState.Running;
}

export function trayIconFile(state: TrayState): string {
  return `tray-${state}.png`;
}

export interface TrayActions {
  openDashboard(): void;
  copyInviteLink(): void;
  setPaused(paused: boolean): void;
  setStartAtLogin(enabled: boolean): void;
  setNotifications(enabled: boolean): void;
  openLogsFolder(): void;
  quit(): void;
}

/** A subset of Electron's MenuItemConstructorOptions, as plain objects. */
export interface TrayMenuItem {
  label?: string;
  type?: 'normal' | 'separator' | 'checkbox';
  enabled?: boolean;
  checked?: boolean;
  click?: () => void;
  /** A submenu ("Details": a problem's raw text, which the menu itself does not show). */
  submenu?: TrayMenuItem[];
}

export interface TrayModel {
  state: TrayState;
  tooltip: string;
  icon: string;
  menu: TrayMenuItem[];
}

/** The tooltip's unread part (issue #20): "3 unread, 1 mention" or nothing. */
export function unreadLine(unread: { unread: number; mentions: number } | undefined): string | null {
  if (!unread || unread.unread <= 0) return null;
  return `${unread.unread} unread${unread.mentions > 0 ? `, ${unread.mentions} mention${unread.mentions === 1 ? '' : 's'}` : ''}`;
}

/** How many members (issue #34) are signed in on their own devices: "2 members signed in", or nothing when none is. */
export function membersLine(signedIn: number | undefined): string | null {
  if (!signedIn || signedIn <= 0) return null;
  return `${signedIn} ${signedIn === 1 ? 'member' : 'members'} signed in`;
}

export function trayModel(
  status: NodeStatus | null,
  options: { startAtLogin: boolean; notifications?: boolean; problem?: TrayProblem; unread?: { unread: number; mentions: number } },
  actions: TrayActions,
): TrayModel {
  const state = trayStateOf(status);
  const headline = status?.server_name ? `${status.server_name} — ${state}` : state === TrayState.Offline ? 'Paracord — not running' : `Paracord — ${state}`;
  const lines: TrayMenuItem[] = [{ label: headline, enabled: false }];
  if (status && !status.setup_required) {
    lines.push({ label: `Peers: ${status.peers}`, enabled: false });
    if (status.reachability) lines.push({ label: status.reachability.summary, enabled: false });
    lines.push({ label: `Waiting to send: ${status.queue.pending}`, enabled: false });
    if (status.queue.failed > 0) lines.push({ label: `Failed deliveries: ${status.queue.failed}`, enabled: false });
    const members = membersLine(status.members_signed_in);
    if (members) lines.push({ label: members, enabled: false });
  }
  // What is wrong, in words; the raw error text only under "Details" (tray-problem.ts).
  if (options.problem) {
    const words = trayProblemWords(options.problem);
    lines.push({ label: words.text, enabled: false });
    if (words.details) lines.push({ label: 'Details', submenu: detailLines(words.details).map((line) => ({ label: line, enabled: false })) });
  }
  const running = status !== null && !status.setup_required;
  const unread = running ? unreadLine(options.unread) : null;
  if (unread) lines.push({ label: unread, enabled: false });
  return {
    state,
    tooltip: unread ? `${headline} — ${unread}` : headline,
    icon: trayIconFile(state),
    menu: [
      ...lines,
      { type: 'separator' },
      { label: status?.setup_required ? 'Finish setup…' : 'Open dashboard', click: actions.openDashboard },
      { label: 'Copy invite link', enabled: running, click: actions.copyInviteLink },
      status?.federation.paused
        ? { label: 'Resume federation', enabled: running, click: () => actions.setPaused(false) }
        : { label: 'Pause federation', enabled: running, click: () => actions.setPaused(true) },
      { type: 'separator' },
      { label: 'Start at login', type: 'checkbox', checked: options.startAtLogin, click: () => actions.setStartAtLogin(!options.startAtLogin) },
      { label: 'Notifications', type: 'checkbox', checked: options.notifications !== false, click: () => actions.setNotifications(options.notifications === false) },
      { label: 'Open logs folder', click: actions.openLogsFolder },
      { type: 'separator' },
      { label: 'Quit Paracord', click: actions.quit },
    ],
  };
}
