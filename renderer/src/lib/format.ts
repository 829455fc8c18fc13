/** Times in words (issue #16 item 3): relative where a person reads at a glance, a clock time where "since when" matters. */
/** Minutes up to what rounds to 60 of them, hours up to what rounds to 24 ("in 60 min", "24 h ago" were said). */
const MINUTES_UNTIL = 3570;
const HOURS_UNTIL = 84_600;

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return 'never';
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < MINUTES_UNTIL) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < HOURS_UNTIL) return `${Math.round(seconds / 3600)} h ago`;
  return `${days(seconds)} ago`;
}

/** "in 40 s", "in 3 min", "now" for a moment to come. */
export function fromNow(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return '';
  const seconds = Math.round((ms - now) / 1000);
  if (seconds <= 1) return 'now';
  if (seconds < 60) return `in ${seconds} s`;
  if (seconds < MINUTES_UNTIL) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < HOURS_UNTIL) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${days(seconds)}`;
}

/** "1 day", "3 days" (it said "1 days" from 24 h to 36 h). */
const days = (seconds: number): string => {
  const n = Math.round(seconds / 86400);
  return n === 1 ? '1 day' : `${n} days`;
};

// The formats, made once: `toLocale…String` with options builds a formatter on every call, which
// was the largest single cost of redrawing a room's timeline after each message (issue #17).
let formats: { time: Intl.DateTimeFormat; weekday: Intl.DateTimeFormat; dayMonth: Intl.DateTimeFormat; full: Intl.DateTimeFormat } | undefined;
function format() {
  formats ??= {
    time: new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' }),
    weekday: new Intl.DateTimeFormat([], { weekday: 'short' }),
    dayMonth: new Intl.DateTimeFormat([], { day: 'numeric', month: 'short' }),
    // What `toLocaleString()` shows.
    full: new Intl.DateTimeFormat([], { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }),
  };
  return formats;
}

/** "14:02" today, "Mon 14:02" this week, "3 Nov 14:02" before. */
export function clock(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  const f = format();
  const time = f.time.format(date);
  const today = new Date(now);
  if (date.getFullYear() === today.getFullYear() && date.getMonth() === today.getMonth() && date.getDate() === today.getDate()) return time;
  if (now - ms < 6 * 86400_000 && ms < now) return `${f.weekday.format(date)} ${time}`;
  return `${f.dayMonth.format(date)} ${time}`;
}

export function when(ms: number): string {
  return format().full.format(new Date(ms));
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
