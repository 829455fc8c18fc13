/** Times in words (issue #16 item 3): relative where a person reads at a glance, a clock time where "since when" matters. */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return 'never';
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** "in 40 s", "in 3 min", "now" for a moment to come. */
export function fromNow(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return '';
  const seconds = Math.round((ms - now) / 1000);
  if (seconds <= 1) return 'now';
  if (seconds < 60) return `in ${seconds} s`;
  if (seconds < 3600) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86400)} days`;
}

/** "14:02" today, "Mon 14:02" this week, "3 Nov 14:02" before. */
export function clock(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const today = new Date(now);
  if (date.toDateString() === today.toDateString()) return time;
  if (now - ms < 6 * 86400_000 && ms < now) return `${date.toLocaleDateString([], { weekday: 'short' })} ${time}`;
  return `${date.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

export function when(ms: number): string {
  return new Date(ms).toLocaleString();
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
