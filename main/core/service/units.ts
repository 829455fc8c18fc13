/**
 * Start at boot (README "Keep it running"): systemd units (user and system) and a launchd
 * plist, as pure functions of where node, the CLI and the data live.
 *
 * Type=exec, not Type=notify: readiness through sd_notify means sending a datagram to the
 * unix socket in $NOTIFY_SOCKET, and Node.js has no unix datagram sockets without a native
 * module; calling `systemd-notify` instead is racy (systemd may not attribute the message to
 * our process). With Type=exec systemd knows the process started; the node is ready once it
 * prints its ready line, which `paracord-node status` and `paracord-node doctor` check.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const UNIT_NAME = 'paracord-node.service';
export const LAUNCHD_LABEL = 'org.paracord.node';
export const SYSTEM_USER = 'paracord';
export const SYSTEM_DATA_DIR = '/var/lib/paracord-node';

export interface UnitOptions {
  /** Absolute path of the node binary. */
  nodePath: string;
  /** Absolute path of bin/paracord-node.js. */
  cliPath: string;
  dataDir: string;
  /** Extra `serve` arguments (listen addresses, public URL, ...). */
  serveArgs?: readonly string[];
  /** System unit: the dedicated account it runs as. */
  user?: string;
}

/** A control character (a newline ends a unit's line: what follows would be a directive of its own). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuses a word no unit may carry (the CLI refuses such input first, in words: cli/service.ts). */
function unitWord(word: string): string {
  if (CONTROL.test(word)) throw new Error(`a unit cannot carry a control character (newline, tab, …): ${JSON.stringify(word)}`);
  return word;
}

/** Quotes one ExecStart word for systemd: specifiers (%) and variables ($) are escaped; control characters are refused. */
export function systemdQuote(word: string): string {
  const escaped = unitWord(word).replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A path for a ReadWritePaths= line (quoted when it has spaces; - is not used: the dir must exist). */
function systemdPath(path: string): string {
  unitWord(path);
  return /[\s"\\]/.test(path) ? `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : path;
}

function execStart(options: UnitOptions): string {
  return [options.nodePath, options.cliPath, 'serve', '--data', options.dataDir, ...(options.serveArgs ?? [])].map(systemdQuote).join(' ');
}

/** The lowest port the serve arguments listen on (ports below 1024 need a capability). */
function lowestPort(serveArgs: readonly string[]): number | null {
  let lowest: number | null = null;
  serveArgs.forEach((arg, i) => {
    const value = arg.startsWith('--listen=') || arg.startsWith('--admin-listen=') ? arg.split('=')[1] : arg === '--listen' || arg === '--admin-listen' ? serveArgs[i + 1] : undefined;
    const port = value ? Number(/:(\d+)$/.exec(value)?.[1]) : NaN;
    if (Number.isInteger(port) && port > 0) lowest = lowest === null ? port : Math.min(lowest, port);
  });
  return lowest;
}

const underHome = (path: string) => /^\/(home|root|run\/user)(\/|$)/.test(path);

/** A hardened system unit, running as a dedicated user, writing only its data folder. */
export function systemdSystemUnit(options: UnitOptions): string {
  const user = options.user ?? SYSTEM_USER;
  const port = lowestPort(options.serveArgs ?? []);
  // node or the program installed in a home folder (nvm, a clone): home must stay readable.
  const protectHome = [options.nodePath, options.cliPath, options.dataDir].some(underHome) ? 'read-only' : 'yes';
  const lines = [
    '[Unit]',
    'Description=Paracord federation node',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    '# Type=exec: Node.js cannot send sd_notify datagrams without a native module (see README).',
    'Type=exec',
    `User=${user}`,
    `Group=${user}`,
    `ExecStart=${execStart(options)}`,
    '# SIGTERM lets requests in flight finish and closes the database cleanly.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'Restart=on-failure',
    'RestartSec=5',
    'UMask=0077',
    ...(options.dataDir === SYSTEM_DATA_DIR ? ['StateDirectory=paracord-node', 'StateDirectoryMode=0700'] : []),
    '',
    '# Hardening: the node writes only its data folder.',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    `ProtectHome=${protectHome}`,
    `ReadWritePaths=${systemdPath(options.dataDir)}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '# AF_NETLINK: listing network interfaces. AF_UNIX: local sockets.',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    ...(port !== null && port < 1024
      ? [`# Listening on port ${port} (< 1024) needs this one capability.`, 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'AmbientCapabilities=CAP_NET_BIND_SERVICE']
      : ['CapabilityBoundingSet=']),
    '# Not MemoryDenyWriteExecute: the V8 JIT needs writable code pages.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** A user unit: runs as you; starts at boot once lingering is enabled (`loginctl enable-linger`). */
export function systemdUserUnit(options: UnitOptions): string {
  const lines = [
    '[Unit]',
    'Description=Paracord federation node',
    'After=network-online.target',
    '',
    '[Service]',
    '# Type=exec: Node.js cannot send sd_notify datagrams without a native module (see README).',
    'Type=exec',
    `ExecStart=${execStart(options)}`,
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'Restart=on-failure',
    'RestartSec=5',
    'UMask=0077',
    'NoNewPrivileges=yes',
    '# The sandboxing below needs unprivileged user namespaces in user units (systemd >= 247 and a',
    '# kernel that allows them); uncomment it if `systemctl --user start` still works afterwards.',
    '#PrivateTmp=yes',
    '#ProtectSystem=strict',
    '#ProtectHome=read-only',
    `#ReadWritePaths=${systemdPath(options.dataDir)}`,
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ];
  return lines.join('\n');
}

/** Where `service install --user` writes the unit. */
export function userUnitPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'systemd', 'user', UNIT_NAME);
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A launchd agent for macOS (~/Library/LaunchAgents/org.paracord.node.plist). */
export function launchdPlist(options: UnitOptions): string {
  const args = [options.nodePath, options.cliPath, 'serve', '--data', options.dataDir, ...(options.serveArgs ?? [])];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...args.map((a) => `    <string>${xml(a)}</string>`),
    '  </array>',
    '  <key>RunAtLoad</key><true/>',
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    '  <key>ThrottleInterval</key><integer>5</integer>',
    '  <key>ExitTimeOut</key><integer>30</integer>',
    '  <key>Umask</key><integer>63</integer>',
    `  <key>StandardErrorPath</key><string>${xml(join(options.dataDir, 'logs', 'launchd.err'))}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
