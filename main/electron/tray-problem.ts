/**
 * A problem of the desktop app, in the tray's words: what is wrong, said plainly, and apart the
 * raw error text, which the tray shows only under "Details" (a tray has no room for a disclosure,
 * so a submenu holds it). Where the problem came from decides the words, not a match on our own
 * sentences. Plain data, no electron import: tested under plain Node (tray-problem.test.ts).
 */

/** Where main.ts met the problem. */
export type TrayProblemSource =
  /** The system keychain cannot seal the private key (safe-storage-sealer.ts): a warning, the node runs. */
  | 'key_storage'
  /** `node.start()` threw: the node is not running as it should. */
  | 'start'
  /** The last status request to the node failed (cleared once it answers again). */
  | 'status';

export interface TrayProblem {
  source: TrayProblemSource;
  /** The error's own text. */
  raw: string;
}

export interface TrayProblemWords {
  text: string;
  /** The raw text, for "Details"; '' when there is none. */
  details: string;
}

/** Why the node could not start, from the error's code or text (listen, data folder, disk). */
const START_CAUSES: Array<[RegExp, string]> = [
  [/EADDRINUSE|address already in use/i, 'Could not start: another program uses its port'],
  [/EADDRNOTAVAIL|EAFNOSUPPORT/, 'Could not start: its network address is not on this computer'],
  [/ENOSPC|EDQUOT|disk is full|no space/i, 'Could not start: the disk is full'],
  [/EACCES|EPERM|EROFS|permission denied/i, 'Could not start: it may not use its port or its data folder'],
  [/lock|in use by another/i, 'Could not start: another Paracord uses the same data folder'],
];

export function trayProblemWords(problem: TrayProblem): TrayProblemWords {
  const details = problem.raw.trim();
  switch (problem.source) {
    case 'key_storage':
      return { text: 'Private key not encrypted (no system keychain)', details };
    case 'status':
      return { text: 'The node does not answer', details };
    case 'start':
      return { text: START_CAUSES.find(([pattern]) => pattern.test(details))?.[1] ?? 'Could not start — see Details or the logs folder', details };
  }
}

/** The raw text as menu lines of at most `width` characters, at most `maxLines` of them (a menu item does not wrap). */
export function detailLines(details: string, width = 80, maxLines = 8): string[] {
  const words = details.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    for (let rest = word; rest.length > 0; rest = rest.slice(width)) {
      const piece = rest.slice(0, width);
      if (line && line.length + 1 + piece.length > width) {
        lines.push(line);
        line = piece;
      } else line = line ? `${line} ${piece}` : piece;
    }
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines;
  return [...lines.slice(0, maxLines - 1), `${lines[maxLines - 1]!.slice(0, width - 1)}…`];
}
