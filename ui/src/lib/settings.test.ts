import { describe, expect, it } from "vitest";
import { describeApplied, fieldErrors, newProfile } from "./settings";

describe("fieldErrors", () => {
  it("maps each refused field to its message", () => {
    const errors = fieldErrors({
      code: "invalid_settings",
      message: "some settings are invalid",
      fields: [{ field: "profiles[1].port", message: "must be between 1 and 65535" }],
    });
    expect(errors).toEqual({ "profiles[1].port": "must be between 1 and 65535" });
  });

  it("puts other failures on the form", () => {
    expect(fieldErrors({ code: "io", message: "disk full" })).toEqual({ form: "disk full" });
  });
});

describe("newProfile", () => {
  it("takes the first default port not in use, named after it, and a name not taken", () => {
    const first = newProfile([]);
    expect([first.name, first.port, first.id]).toEqual(["TWS live", 7496, ""]);
    const all = [7496, 7497, 4001, 4002].map((port) => ({ ...first, port, name: `x${port}` }));
    expect(newProfile(all).port).toBe(4002);
    expect(newProfile([{ ...first, port: 1 }]).name).toBe("TWS live 2");
  });
});

describe("describeApplied", () => {
  it("names the gateways a save touched", () => {
    const profiles = [{ ...newProfile([]), id: "paper", name: "Gateway paper" }];
    expect(describeApplied({ started: [], restarted: ["paper"], stopped: ["old"] }, profiles)).toBe("Saved. Restarted: Gateway paper. Stopped: old.");
    expect(describeApplied({ started: [], restarted: [], stopped: [] }, profiles)).toBe("Saved.");
  });
});
