import { describe, expect, it } from "vitest";
import { countdown, isExpected, upcomingWords } from "./calendar";
import type { Occurrence } from "./backend/types";

const restart: Occurrence = {
  kind: "daily_restart",
  label: "nightly restart",
  starts_ms: 1_000_000 + (3 * 60 + 12) * 60_000,
  ends_ms: null,
  expected_from_ms: 0,
  expected_until_ms: 0,
  overdue_at_ms: null,
  needs_2fa: false,
  ibc_login: false,
  local: "Mon 23:45 EST",
};

describe("calendar words", () => {
  it("counts down in the largest units that matter", () => {
    expect(countdown(45_000)).toBe("45 s");
    expect(countdown(12 * 60_000)).toBe("12 min");
    expect(countdown((3 * 60 + 12) * 60_000)).toBe("3 h 12 min");
    expect(countdown((51 * 60) * 60_000)).toBe("2 d 3 h");
  });

  it("says what comes next, when, and whether the phone will be needed", () => {
    expect(upcomingWords(restart, 1_000_000)).toBe("nightly restart Mon 23:45 EST (in 3 h 12 min)");
    expect(upcomingWords({ ...restart, kind: "weekly_expiry", local: "Sun 01:00 ET" }, 1_000_000)).toBe(
      "2FA re-login due Sun 01:00 ET (in 3 h 12 min)",
    );
    expect(upcomingWords({ ...restart, needs_2fa: true, label: "weekly re-login restart" }, restart.starts_ms)).toBe(
      "weekly re-login restart Mon 23:45 EST (now) — needs a 2FA approval on your phone",
    );
  });

  it("tells expected outages from alarms", () => {
    const connection = { state: "reconnecting", attempt: 1, next_try_ms: 0 } as const;
    expect(isExpected({ state: "scheduled_restart", outage: restart, connection })).toBe(true);
    expect(isExpected({ state: "server_reset", outage: restart, connection })).toBe(true);
    expect(isExpected({ state: "overdue", outage: restart, connection })).toBe(false);
    expect(isExpected(connection)).toBe(false);
  });
});
