import { describe, expect, it } from "vitest";
import { serverVersionOf, stageOf } from "./state";

const session = { server_version: 213, encoding: "protobuf" as const, accounts: [], client_id: 901, since_ms: 0, stage_us: { tcp_connect: 0, version_exchange: 0, start_api: 0, first_ping: 0 } };

describe("state readers", () => {
  it("read each variant's own fields", () => {
    expect(stageOf({ state: "connecting", attempt: 1, stage: "version_exchange", client_id: 901 })).toBe("version exchange");
    expect(serverVersionOf({ state: "connected", ...session })).toBe(213);
    expect(serverVersionOf({ state: "degraded", session, reasons: [] })).toBe(213);
    expect(serverVersionOf({ state: "stopped" })).toBeNull();
    expect(stageOf({ state: "connecting", attempt: 1, stage: "start_api", client_id: 901 })).toBe("API start-up");
  });
});
