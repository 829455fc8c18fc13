import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../shared/contract/admin-operations.ts';
import { TrayState, trayIconFile, trayModel, trayStateOf, type TrayActions } from './tray-model.ts';
import { NOBODY_COULD_ASK, NO_PEER_CAN_TEST, reachabilitySummary, testingAgainNote } from '../../shared/reachability-words.ts';

const base: NodeStatus = {
  mode: 'running', setup_required: false, server_name: 'alpha.test', key_id: 'ed25519:a', public_key: 'a'.repeat(64),
  federation: { paused: false, url: 'https://alpha.test:7447', tls_fingerprint: null, scheme: 'https' }, peers: 3,
  peer_counts: { allow: 3, block: 0, quarantine: 0 }, queue: { pending: 2, failed: 0 }, version: '0.1.0', uptime_ms: 1,
  key_storage: { sealed_by: null, warning: null }, backup: { last_at: null, scheduled: false, warning: null },
};
const calls: string[] = [];
const actions: TrayActions = {
  openDashboard: () => calls.push('open'),
  copyInviteLink: () => calls.push('copy'),
  setPaused: (paused) => calls.push(`paused:${paused}`),
  setStartAtLogin: (enabled) => calls.push(`login:${enabled}`),
  setNotifications: (enabled) => calls.push(`notify:${enabled}`),
  openLogsFolder: () => calls.push('logs'),
  quit: () => calls.push('quit'),
};

describe('tray model', () => {
  it('has a frozen status enum', () => {
    expect(Object.isFrozen(TrayState)).toBe(true);
    expect(Object.values(TrayState)).toEqual(['running', 'degraded', 'offline', 'paused']);
  });

  it('maps node status to a tray state and icon', () => {
    expect(trayStateOf(base)).toBe('running');
    expect(trayStateOf({ ...base, queue: { pending: 0, failed: 1 } })).toBe('degraded');
    expect(trayStateOf({ ...base, federation: { ...base.federation, paused: true }, queue: { pending: 0, failed: 4 } })).toBe('paused');
    expect(trayStateOf(null)).toBe('offline');
    expect(trayStateOf({ ...base, setup_required: true })).toBe('offline');
    expect(trayIconFile('degraded')).toBe('tray-degraded.png');
  });

  it('builds the menu from the status: status lines, actions, pause or resume', () => {
    const model = trayModel({ ...base, queue: { pending: 2, failed: 1 } }, { startAtLogin: true }, actions);
    const labels = model.menu.map((i) => i.label ?? `—${i.type}`);
    expect(labels).toEqual([
      'alpha.test — degraded', 'Peers: 3', 'Waiting to send: 2', 'Failed deliveries: 1', '—separator',
      'Open dashboard', 'Copy invite link', 'Pause federation', '—separator', 'Start at login', 'Notifications', 'Open logs folder', '—separator', 'Quit Paracord',
    ]);
    expect(model.menu.find((i) => i.label === 'Start at login')).toMatchObject({ type: 'checkbox', checked: true });
    expect(model.icon).toBe('tray-degraded.png');
    expect(model.tooltip).toBe('alpha.test — degraded');
    calls.length = 0;
    for (const label of ['Open dashboard', 'Copy invite link', 'Pause federation', 'Start at login', 'Notifications', 'Open logs folder', 'Quit Paracord']) {
      model.menu.find((i) => i.label === label)!.click!();
    }
    expect(calls).toEqual(['open', 'copy', 'paused:true', 'login:false', 'notify:false', 'logs', 'quit']);
  });

  it('says what is wrong in words, and keeps the raw error text under a Details submenu only', () => {
    const raw = 'listen EADDRINUSE: address already in use :::8448';
    const model = trayModel(base, { startAtLogin: false, problem: { source: 'start', raw } }, actions);
    const labels = model.menu.map((i) => i.label ?? `—${i.type}`);
    expect(labels.slice(0, 6)).toEqual(['alpha.test — running', 'Peers: 3', 'Waiting to send: 2', 'Could not start: another program uses its port', 'Details', '—separator']);
    // No line of the menu itself carries the raw text, nor "Last error".
    expect(labels.some((l) => l.includes('EADDRINUSE') || l.startsWith('Last error'))).toBe(false);
    expect(model.menu.find((i) => i.label === 'Details')!.submenu!.map((i) => i.label).join(' ')).toBe(raw);
    // The keychain warning, which is long: a short line, the whole sentence under Details (not cut at 60 characters).
    const keys = 'No system keychain is available, so your server\'s private key is kept in a file only your user can read (not encrypted). Install a keyring (GNOME Keyring or KWallet) and restart Paracord to protect it.';
    const warned = trayModel(base, { startAtLogin: false, problem: { source: 'key_storage', raw: keys } }, actions).menu;
    expect(warned.map((i) => i.label)).toContain('Private key not encrypted (no system keychain)');
    expect(warned.find((i) => i.label === 'Details')!.submenu!.map((i) => i.label).join(' ')).toBe(keys);
    // A node that does not answer: said so, with the tray offline.
    const silent = trayModel(null, { startAtLogin: false, problem: { source: 'status', raw: 'connect ECONNREFUSED 127.0.0.1:9' } }, actions).menu.map((i) => i.label);
    expect(silent.slice(0, 3)).toEqual(['Paracord — not running', 'The node does not answer', 'Details']);
  });

  it('shows unread messages and mentions in the tooltip and the menu (issue #20)', () => {
    const model = trayModel(base, { startAtLogin: false, unread: { unread: 3, mentions: 1 } }, actions);
    expect(model.tooltip).toBe('alpha.test — running — 3 unread, 1 mention');
    expect(model.menu.map((i) => i.label)).toContain('3 unread, 1 mention');
    expect(trayModel(base, { startAtLogin: false, unread: { unread: 0, mentions: 0 } }, actions).tooltip).toBe('alpha.test — running');
    expect(trayModel(null, { startAtLogin: false, unread: { unread: 5, mentions: 0 } }, actions).tooltip).toBe('Paracord — not running');
  });

  it('offers resume when paused, and little when the node is not running', () => {
    const paused = trayModel({ ...base, federation: { ...base.federation, paused: true } }, { startAtLogin: false }, actions);
    expect(paused.menu.map((i) => i.label)).toContain('Resume federation');
    const offline = trayModel(null, { startAtLogin: false }, actions);
    expect(offline.menu[0]!.label).toBe('Paracord — not running');
    expect(offline.menu.find((i) => i.label === 'Copy invite link')!.enabled).toBe(false);
    const setup = trayModel({ ...base, setup_required: true, server_name: null }, { startAtLogin: false }, actions);
    expect(setup.menu.map((i) => i.label)).toContain('Finish setup…');
  });

  it('says whether friends can reach the node, in the words of issue #15', () => {
    const reach = { checked_at: 1, via: 'beta.test', endpoint: 'https://alpha.test:7447', mapping: null, error: null };
    const line = (r: Parameters<typeof reachabilitySummary>[0]) =>
      trayModel({ ...base, reachability: { ...r, summary: reachabilitySummary(r, 8448) } }, { startAtLogin: false }, actions).menu.map((i) => i.label);
    expect(line({ ...reach, reachable: true, mode: 'push' })).toContain('Reachable from friends');
    expect(line({ ...reach, reachable: false, mode: 'push', error: 'refused' })).toContain('Not reachable: your router does not forward port 8448 — trying automatic setup');
    expect(line({ ...reach, reachable: false, mode: 'pull', error: 'refused' })).toContain('Receiving through pull mode');
    // Through friends' mailboxes (issue #32): named.
    expect(line({ ...reach, reachable: false, mode: 'pull', error: 'refused', mailboxes: ['carol.test'] })).toContain("Receiving through pull mode and carol.test's mailbox");
    expect(line({ ...reach, reachable: false, mode: 'pull', error: 'refused', mailboxes: ['carol.test', 'dave.test'] })).toContain("Receiving through pull mode and friends' mailboxes (carol.test, dave.test)");
    // A failure not confirmed yet (hysteresis): its error ends with the note the node adds.
    expect(line({ ...reach, reachable: false, mode: 'push', error: `refused. ${testingAgainNote(31, 'gamma.test')}` })).toContain('Not reachable: testing again');
    expect(line({ ...reach, reachable: false, mode: 'pull', error: `refused. ${testingAgainNote(31, null)}` })).toContain('Receiving through pull mode');
    expect(line({ ...reach, reachable: null, mode: 'push', via: null, error: 'no peer to ask yet' })).toContain('Reachability: will be tested once the first peer is added');
    // Peers exist but none could run the test: not "no peer".
    expect(line({ ...reach, reachable: null, mode: 'push', via: null, error: `${NOBODY_COULD_ASK}: beta.test answered HTTP 429` })).toContain('Reachability: not tested — no friend could run the test just now');
    // Peers exist but none may be asked (blocked, in quarantine, never reached): not "the first peer".
    expect(line({ ...reach, reachable: null, mode: 'push', via: null, error: `${NO_PEER_CAN_TEST}: every peer is blocked` })).toContain("Reachability: not tested — none of your friends' servers can run the test (blocked, in quarantine or not reached yet)");
    expect(trayModel(base, { startAtLogin: false }, actions).menu.some((i) => i.label?.startsWith('Reach'))).toBe(false);
  });

  it('shows how many members are signed in on their own devices (issue #34), only when some are', () => {
    const labels = (n: number | undefined) => trayModel({ ...base, ...(n === undefined ? {} : { members_signed_in: n }) }, { startAtLogin: false }, actions).menu.map((i) => i.label);
    expect(labels(2)).toContain('2 members signed in');
    expect(labels(1)).toContain('1 member signed in');
    expect(labels(0).some((l) => l?.includes('signed in'))).toBe(false);
    expect(labels(undefined).some((l) => l?.includes('signed in'))).toBe(false);
    expect(trayModel(null, { startAtLogin: false }, actions).menu.some((i) => i.label?.includes('signed in'))).toBe(false);
  });
});
