// What the window does with the history it reads: the incident filters, the uptime strip's
// colours and words, and when the morning summary is shown.
import type { IncidentView, LatencyRange, MorningSummary, UptimeDay } from "./backend";

/** The latency chart's ranges, with how often each is read again (ms): a bucket of the long
 * ranges changes slowly, and 24 h reads every raw ping for its exact percentiles. */
export const RANGES: [LatencyRange, string, number][] = [
  ["5m", "5 min", 2_000],
  ["1h", "1 h", 2_000],
  ["24h", "24 h", 30_000],
  ["7d", "7 days", 60_000],
  ["30d", "30 days", 300_000],
];

export type KindFilter = "all" | "down" | "zombie" | "degraded" | "ib_link_lost";
export type ExpectedFilter = "all" | "unexpected" | "expected";

export const KIND_CHOICES: [KindFilter, string][] = [
  ["all", "Every kind"],
  ["down", "Down"],
  ["zombie", "Zombie"],
  ["degraded", "Degraded"],
  ["ib_link_lost", "IB link lost"],
];

export const SINCE_CHOICES: [number, string][] = [
  [1, "24 h"],
  [7, "7 days"],
  [30, "30 days"],
];

/** The incidents the filters let through, in the order given. */
export function filterIncidents(list: IncidentView[], kind: KindFilter, expected: ExpectedFilter): IncidentView[] {
  return list.filter(
    (i) => (kind === "all" || i.kind === kind) && (expected === "all" || (expected === "expected") === i.expected),
  );
}

/** "58 s", "4 min", "2 h 05 min". */
export function shortDuration(ms: number): string {
  const secs = Math.floor(ms / 1000);
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.round(secs / 60)} min`;
  return `${Math.floor(secs / 3600)} h ${String(Math.floor((secs % 3600) / 60)).padStart(2, "0")} min`;
}

/** A day of the strip: `unwatched` when Gatewatch was not watching at all, `up` with no
 * unexpected downtime, `expected` when only planned outages happened, `short` under five
 * minutes down unexpectedly, `long` beyond. */
export function uptimeClass(day: UptimeDay): "unwatched" | "up" | "expected" | "short" | "long" {
  if (day.uptime === null) return "unwatched";
  if (day.unexpected_down_ms > 5 * 60_000) return "long";
  if (day.unexpected_down_ms > 0) return "short";
  return day.expected_down_ms > 0 ? "expected" : "up";
}

/** "Sun 29 Nov: 99.72 % up of 24 h watched; 4 min down unexpectedly; 58 s in expected
 * restarts", or "Sun 29 Nov: not watched". */
export function uptimeWords(day: UptimeDay): string {
  if (day.uptime === null) return `${day.label}: not watched`;
  const parts = [`${day.label}: ${(day.uptime * 100).toFixed(2)} % up of ${shortDuration(day.watched_ms)} watched`];
  if (day.unexpected_down_ms > 0) parts.push(`${shortDuration(day.unexpected_down_ms)} down unexpectedly`);
  if (day.expected_down_ms > 0) parts.push(`${shortDuration(day.expected_down_ms)} in expected restarts`);
  return parts.join("; ");
}

/** The summary is shown until dismissed, and again once it covers a new evening. */
export function showSummary(summary: MorningSummary | null, dismissedSince: number | null): boolean {
  return summary !== null && summary.since_ms !== dismissedSince;
}
