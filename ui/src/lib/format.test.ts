import { describe, expect, it } from "vitest";
import { formatMicros, formatNumber, safeLocale } from "./format";

describe("format", () => {
  it("falls back from a locale Intl rejects", () => {
    expect(safeLocale("C")).toBe("en-US");
    expect(safeLocale(undefined)).toBe("en-US");
    expect(safeLocale("de-DE")).toBe("de-DE");
  });

  it("formats numbers and missing values", () => {
    expect(formatNumber(1234.5)).toMatch(/1.?234[.,]50/);
    expect(formatNumber(null)).toBe("–");
    expect(formatMicros(840)).toMatch(/0[.,]84 ms/);
  });
});
