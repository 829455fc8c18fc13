/** "Firefox on Android", from a browser's user agent: the signed-in devices' lists (owner's and members'). */
export function browserName(agent: string | null): string {
  if (!agent) return 'A browser';
  const name = /(Firefox|Edg|Chrome|Chromium|Safari)\/[\d.]+/.exec(agent)?.[1] ?? 'A browser';
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(agent)?.[1];
  return `${name === 'Edg' ? 'Edge' : name}${os ? ` on ${os.replace('Mac OS X', 'macOS')}` : ''}`;
}
