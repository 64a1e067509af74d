// Dates and numbers with Intl, in the organisation's time zone (set once the session is known).

let timeZone = "UTC";
let formatters = {};

export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    timeZone = zone || "UTC";
  } catch {
    timeZone = "UTC";
  }
  formatters = {};
}

export const zone = () => timeZone;

function formatter(name, options) {
  formatters[name] ??= new Intl.DateTimeFormat(undefined, { timeZone, ...options });
  return formatters[name];
}

const day = (date) => formatter("day", { year: "numeric", month: "2-digit", day: "2-digit" }).format(date);

/** 14:05 */
export function time(value) {
  if (!value) return "";
  return formatter("time", { hour: "2-digit", minute: "2-digit" }).format(new Date(value));
}

/** Mon, 25 Nov 2026, 14:05 — for titles and tooltips. */
export function dateTime(value) {
  if (!value) return "";
  return formatter("dateTime", { dateStyle: "medium", timeStyle: "short" }).format(new Date(value));
}

/** Monday, 25 November 2026 — a day separator in the thread. */
export function longDay(value) {
  return formatter("longDay", { weekday: "long", year: "numeric", month: "long", day: "numeric" }).format(new Date(value));
}

/** The same calendar day in the org's time zone? */
export function sameDay(a, b) {
  return day(new Date(a)) === day(new Date(b));
}

/** A list row's time: today → 14:05, within a week → Mon, else 25 Nov (or 25 Nov 2025 in another year). */
export function shortWhen(value, now = new Date()) {
  if (!value) return "";
  const date = new Date(value);
  if (sameDay(date, now)) return time(date);
  const age = now - date;
  if (age >= 0 && age < 6 * 86400e3) return formatter("weekday", { weekday: "short" }).format(date);
  const sameYear = formatter("year", { year: "numeric" }).format(date) === formatter("year", { year: "numeric" }).format(now);
  return formatter(sameYear ? "monthDay" : "monthDayYear", sameYear ? { day: "numeric", month: "short" } : { dateStyle: "medium" })
    .format(date);
}

/** 23:59:12 from a number of milliseconds (never negative). */
export function countdown(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return [hours, minutes, seconds].map((n) => String(n).padStart(2, "0")).join(":");
}

export function number(value) {
  return new Intl.NumberFormat().format(value);
}
