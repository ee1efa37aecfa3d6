// Pure readers for the gateway cards and the keyboard between them, unit-tested without a
// window. The words of a state come from the backend's tray line, so the tray, the cards
// and the notifications say the same thing.
import type { GatewayView } from "./backend/types";
import { formatNumber } from "./format";

/** The state in words: the gateway's tray line without its name ("connected 0.42 ms"). */
export function stateWords(g: GatewayView): string {
  const prefix = `${g.name}: `;
  return g.status_line.startsWith(prefix) ? g.status_line.slice(prefix.length) : g.status_line;
}

/** The median round trip of the last minute, ms; null when no ping was answered in it. */
export function p50OneMinuteMs(g: GatewayView): number | null {
  const window = g.latency.windows.find(([w]) => w === "one_minute");
  const p50 = window?.[1].p50_us;
  return p50 === null || p50 === undefined ? null : p50 / 1000;
}

/** Pings of the last minute that got no answer in time, and those sent; null with none sent. */
export function lostOneMinute(g: GatewayView): { lost: number; sent: number } | null {
  const window = g.latency.windows.find(([w]) => w === "one_minute");
  return window && window[1].sent > 0 ? { lost: window[1].lost, sent: window[1].sent } : null;
}

/**
 * The round trip worth showing on a card, never a stale figure as a current one: while
 * connected the last minute's median ("p50 (1 min) 0.42 ms"); otherwise the last answered
 * ping and how old it is ("last ping 412.00 ms, 35 s ago"), or null when there was none.
 */
export function latencyFact(g: GatewayView, nowMs: number): string | null {
  if (isUp(g)) {
    const p50 = p50OneMinuteMs(g);
    return `p50 (1 min) ${p50 === null ? "–" : `${formatNumber(p50, 2)} ms`}`;
  }
  const rtt = g.latency.last_rtt_us;
  const at = g.latency.last_ping_ms;
  if (rtt === null || rtt === undefined || at === null || at === undefined) return null;
  return `last ping ${formatNumber(rtt / 1000, 2)} ms, ${ago(at, nowMs)} ago`;
}

/** Whether the gateway is connected (healthy or not). */
export function isUp(g: GatewayView): boolean {
  return g.state.state === "connected" || g.state.state === "degraded";
}

/** How long ago `sinceMs` was, for people: "45 s", "12 min", "2 h 05 min". */
export function ago(sinceMs: number, nowMs: number): string {
  const secs = Math.max(0, Math.floor((nowMs - sinceMs) / 1000));
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min`;
  const minutes = Math.floor((secs % 3600) / 60);
  return `${Math.floor(secs / 3600)} h ${String(minutes).padStart(2, "0")} min`;
}

/** Whether any account of the gateway is live (not a `DU…` paper account). */
export function hasLive(g: GatewayView): boolean {
  return g.accounts.some((a) => !a.paper);
}

/**
 * The card the arrow key moves to from `index`, in a grid of `count` cards `columns` wide;
 * `null` for keys that do not move.
 */
export function moveFocus(index: number, key: string, count: number, columns: number): number | null {
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  switch (key) {
    case "ArrowRight":
      return clamp(index + 1);
    case "ArrowLeft":
      return clamp(index - 1);
    case "ArrowDown":
      return index + columns < count ? index + columns : index;
    case "ArrowUp":
      return index - columns >= 0 ? index - columns : index;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}
