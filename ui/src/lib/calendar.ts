// The calendar in words for the cards and the detail view: what comes next ("nightly
// restart Mon 23:45 EST, in 3 h 12 min") and, during an expected outage, until when.
import type { ConnectionState, Occurrence } from "./backend/types";

/** `45 s`, `12 min`, `3 h 12 min`, `2 d 3 h`. */
export function countdown(ms: number): string {
  const mins = Math.floor(ms / 60_000);
  if (ms < 60_000) return `${Math.max(0, Math.floor(ms / 1000))} s`;
  if (mins < 60) return `${mins} min`;
  if (mins < 24 * 60) return `${Math.floor(mins / 60)} h ${mins % 60} min`;
  return `${Math.floor(mins / (24 * 60))} d ${Math.floor(mins / 60) % 24} h`;
}

/** One occurrence as a line: "weekly re-login (2FA) due Sun 01:00 ET (in 2 d 3 h)". */
export function upcomingWords(o: Occurrence, nowMs: number): string {
  const when = o.starts_ms <= nowMs ? "now" : `in ${countdown(o.starts_ms - nowMs)}`;
  const what = o.kind === "weekly_expiry" ? "2FA re-login due" : o.label;
  const tfa = o.needs_2fa ? " — needs a 2FA approval on your phone" : "";
  return `${what} ${o.local} (${when})${tfa}`;
}

/** Whether the state is an outage the calendar expects (not an alarm). */
export function isExpected(state: ConnectionState): boolean {
  return state.state === "scheduled_restart" || state.state === "server_reset";
}
