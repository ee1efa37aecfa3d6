import { describe, expect, it } from "vitest";
import { advice } from "./advice";

describe("advice", () => {
  it("names the likely cause per stage", () => {
    expect(advice({ code: "handshake_timeout", stage: "version_exchange" })).toMatch(/zombie/);
    expect(advice({ code: "handshake_timeout", stage: "start_api" })).toMatch(/nextValidId/);
    expect(advice({ code: "gateway_unreachable" })).toMatch(/API enabled/);
    expect(advice({ code: "client_id_in_use" })).toMatch(/326/);
    expect(advice(null)).toBeNull();
  });
});
