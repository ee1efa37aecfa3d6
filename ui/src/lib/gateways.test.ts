import { describe, expect, it } from "vitest";
import { ago, hasLive, latencyFact, lostOneMinute, moveFocus, p50OneMinuteMs, stateWords } from "./gateways";
import type { GatewayView } from "./backend/types";

const view = {
  id: "live",
  name: "TWS live",
  status_line: "TWS live: Connected · 0.42 ms",
  accounts: [{ id: "U1234567", paper: false }],
  latency: {
    last_rtt_us: 420,
    last_ping_ms: 0,
    windows: [["one_minute", { sent: 60, lost: 0, late: 0, p50_us: 412, p95_us: 900, p99_us: 950, max_us: 1000 }]],
  },
} as unknown as GatewayView;

describe("gateway readers", () => {
  it("take the state words from the tray line and the 1-minute median", () => {
    expect(stateWords(view)).toBe("Connected · 0.42 ms");
    expect(p50OneMinuteMs(view)).toBeCloseTo(0.412);
    expect(p50OneMinuteMs({ ...view, latency: { ...view.latency, windows: [] } })).toBeNull();
    expect(hasLive(view)).toBe(true);
    expect(lostOneMinute(view)).toEqual({ lost: 0, sent: 60 });
  });

  it("show a round trip as current only while connected", () => {
    const connected = { ...view, state: { state: "connected" } } as unknown as GatewayView;
    expect(latencyFact(connected, 0)).toBe("p50 (1 min) 0.41 ms");
    const down = {
      ...view,
      state: { state: "reconnecting", attempt: 2, next_try_ms: 0 },
      latency: { ...view.latency, last_rtt_us: 412_000, last_ping_ms: 10_000 },
    } as unknown as GatewayView;
    expect(latencyFact(down, 45_000)).toBe("last ping 412.00 ms, 35 s ago");
    const lostLast = { ...down, latency: { ...down.latency, last_rtt_us: null } } as unknown as GatewayView;
    expect(latencyFact(lostLast, 45_000)).toBeNull();
    const never = { ...down, latency: { windows: [] } } as unknown as GatewayView;
    expect(latencyFact(never, 45_000)).toBeNull();
  });

  it("say how long ago", () => {
    expect(ago(0, 45_000)).toBe("45 s");
    expect(ago(0, 12 * 60_000)).toBe("12 min");
    expect(ago(0, 125 * 60_000)).toBe("2 h 05 min");
  });

  it("move between cards with the arrows, and stay inside the grid", () => {
    expect(moveFocus(0, "ArrowRight", 4, 2)).toBe(1);
    expect(moveFocus(1, "ArrowDown", 4, 2)).toBe(3);
    expect(moveFocus(3, "ArrowDown", 4, 2)).toBe(3);
    expect(moveFocus(0, "ArrowLeft", 4, 2)).toBe(0);
    expect(moveFocus(2, "ArrowUp", 4, 2)).toBe(0);
    expect(moveFocus(2, "End", 4, 2)).toBe(3);
    expect(moveFocus(2, "Enter", 4, 2)).toBeNull();
  });
});
