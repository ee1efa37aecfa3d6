import { describe, expect, it } from "vitest";
import { filterIncidents, showSummary, shortDuration, uptimeClass, uptimeWords } from "./history";
import type { IncidentView, UptimeDay } from "./backend";

const incident = (id: number, kind: string, expected: boolean): IncidentView => ({
  id,
  gateway: "paper",
  kind,
  started_ms: id,
  ended_ms: id + 1,
  expected,
  line: `${kind} ${id}`,
});

const day = (unexpected: number, expected: number): UptimeDay => ({
  day_ms: 0,
  label: "Sun 29 Nov",
  uptime: 1 - unexpected / 86_400_000,
  watched_ms: 86_400_000,
  unexpected_down_ms: unexpected,
  expected_down_ms: expected,
});

describe("history", () => {
  it("filters incidents by kind and by whether the calendar expected them", () => {
    const list = [incident(1, "down", true), incident(2, "zombie", false), incident(3, "down", false)];
    expect(filterIncidents(list, "all", "all").map((i) => i.id)).toEqual([1, 2, 3]);
    expect(filterIncidents(list, "down", "all").map((i) => i.id)).toEqual([1, 3]);
    expect(filterIncidents(list, "all", "unexpected").map((i) => i.id)).toEqual([2, 3]);
    expect(filterIncidents(list, "down", "expected").map((i) => i.id)).toEqual([1]);
  });

  it("colours a day by its unexpected downtime and keeps planned outages apart", () => {
    expect(uptimeClass(day(0, 0))).toBe("up");
    expect(uptimeClass(day(0, 58_000))).toBe("expected");
    expect(uptimeClass(day(240_000, 58_000))).toBe("short");
    expect(uptimeClass(day(301_000, 0))).toBe("long");
    expect(uptimeWords(day(240_000, 58_000))).toBe(
      "Sun 29 Nov: 99.72 % up of 24 h 00 min watched; 4 min down unexpectedly; 58 s in expected restarts",
    );
    const unwatched = { ...day(0, 0), uptime: null, watched_ms: 0 };
    expect(uptimeClass(unwatched)).toBe("unwatched");
    expect(uptimeWords(unwatched)).toBe("Sun 29 Nov: not watched");
  });

  it("says durations briefly", () => {
    expect(shortDuration(58_000)).toBe("58 s");
    expect(shortDuration(250_000)).toBe("4 min");
    expect(shortDuration(7_500_000)).toBe("2 h 05 min");
  });

  it("shows the summary until dismissed, and again for the next evening", () => {
    const summary = { since_ms: 100, text: "Since yesterday 18:00: no incidents.", incidents: 0, unexpected: 0 };
    expect(showSummary(summary, null)).toBe(true);
    expect(showSummary(summary, 100)).toBe(false);
    expect(showSummary({ ...summary, since_ms: 200 }, 100)).toBe(true);
    expect(showSummary(null, null)).toBe(false);
  });
});
