import { describe, expect, it } from "vitest";
import { fieldErrors } from "./settings";

describe("fieldErrors", () => {
  it("maps each refused field to its message", () => {
    const errors = fieldErrors({
      code: "invalid_settings",
      message: "some settings are invalid",
      fields: [{ field: "gateway.port", message: "must be between 1 and 65535" }],
    });
    expect(errors).toEqual({ "gateway.port": "must be between 1 and 65535" });
  });

  it("puts other failures on the form", () => {
    expect(fieldErrors({ code: "io", message: "disk full" })).toEqual({ form: "disk full" });
  });
});
