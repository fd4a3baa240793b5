/** Times and days as the app shows them, in the browser's locale and time zone. */

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long" });
const date = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const DAY_MS = 86_400_000;

export function timeOf(ms: number): string {
  return clock.format(ms);
}

/** Local midnight of the day `ms` falls in. */
export function dayOf(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** "Today", "Yesterday", a weekday within the last week, else a date. */
export function dayLabel(ms: number, now = Date.now()): string {
  const days = Math.round((dayOf(now) - dayOf(ms)) / DAY_MS);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return weekday.format(ms);
  return date.format(ms);
}

/** The chat list's time: the clock today, the day otherwise. */
export function listTime(ms: number, now = Date.now()): string {
  return dayOf(ms) === dayOf(now) ? timeOf(ms) : dayLabel(ms, now);
}

/** "last seen today at 14:03", "last seen yesterday at 09:10", "last seen 3 Mar 2026 at 08:00". */
export function lastSeenLabel(ms: number, now = Date.now()): string {
  const day = dayLabel(ms, now);
  const when = day === "Today" || day === "Yesterday" ? day.toLowerCase() : day;
  return `last seen ${when} at ${timeOf(ms)}`;
}
