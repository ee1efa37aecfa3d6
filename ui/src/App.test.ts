// The whole UI against a mocked backend (no window, no Tauri): what it shows for a
// snapshot, and how a refused save appears at the field.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { mount, unmount } from "svelte";

vi.mock("uplot", () => ({
  default: class {
    setData() {}
    destroy() {}
  },
}));

import App from "./App.svelte";

const settings = {
  gateway: { host: "127.0.0.1", port: 4002, client_id: 901, fallback_client_id: 902 },
  monitoring: { ping_interval_ms: 1000, ping_timeout_ms: 800, timeouts: {} },
  notifications: { enabled: true, hold_secs: 5, disconnected: true, handshake_stalled: true, ib_link_lost: true, zombie_sockets: true, recovered: true },
  start_minimized: false,
};

const snapshot = {
  state: { state: "reconnecting", attempt: 2, next_try_ms: 0 },
  positions: [
    {
      account: "DU1234567",
      instrument: { con_id: 1, symbol: "AAPL", sec_type: "STK", expiry: "", strike: null, right: null, currency: "USD" },
      quantity: 300,
      average_cost: 198.4,
      market_price: 232.5,
      market_value: 69750,
      unrealized_pnl: 10230,
    },
  ],
  account_summary: [{ account: "DU1234567", tag: "NetLiquidation", value: "557127.50", currency: "USD" }],
  accounts: [{ id: "DU1234567", paper: true }],
  recent_events: [{ at_ms: 0, kind: "failure", text: "connect attempt 1 failed" }],
  status_line: "Reconnecting (attempt 2)",
  demo: false,
  settings_problem: null,
  worker: { pid: 1, restarts: 1 },
  zombies: { ours: 0, gateway: 2, other_clients: 0 },
  last_error: { code: "handshake_timeout", message: "no version reply within 3000 ms", stage: "version_exchange" },
};

let target: HTMLElement;
let app: ReturnType<typeof mount>;
let saved: unknown[] = [];

beforeEach(() => {
  saved = [];
  mockIPC(
    (cmd, args) => {
      switch (cmd) {
        case "get_snapshot":
          return snapshot;
        case "get_latency":
          return { t: [], rtt_ms: [], lost_t: [] };
        case "get_settings":
          return settings;
        case "save_settings": {
          const next = (args as { settings: typeof settings }).settings;
          if (next.gateway.port === 0) {
            throw { code: "invalid_settings", message: "some settings are invalid", fields: [{ field: "gateway.port", message: "must be between 1 and 65535" }] };
          }
          saved.push(next);
          return null;
        }
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  target = document.createElement("div");
  document.body.append(target);
  app = mount(App, { target });
});

afterEach(async () => {
  unmount(app);
  target.remove();
  // The component stops listening asynchronously; let that finish before the mocks go.
  await new Promise((resolve) => setTimeout(resolve, 10));
  clearMocks();
});

describe("App", () => {
  it("shows the state, the error with advice, accounts, positions and CLOSE_WAIT counts", async () => {
    await vi.waitFor(() => expect(target.querySelector("header")?.getAttribute("data-state")).toBe("reconnecting"));
    expect(target.querySelector("[data-testid=last-error]")?.textContent).toContain("no version reply");
    expect(target.textContent).toMatch(/zombie gateway/);
    expect(target.querySelector("[data-testid=account]")?.textContent).toContain("DU1234567 · paper");
    expect(target.querySelectorAll("[data-testid=positions] tbody tr").length).toBe(1);
    expect(target.querySelector("[data-testid=zombies]")?.textContent).toContain("2 gateway");
    expect(target.querySelector("[data-testid=restarts]")?.textContent).toContain("1");
  });

  it("shows a refused setting at its field and saves nothing", async () => {
    const port = await vi.waitFor(() => {
      const input = target.querySelector<HTMLInputElement>("input[name='gateway.port']");
      expect(input).not.toBeNull();
      return input!;
    });
    port.value = "0";
    port.dispatchEvent(new Event("input", { bubbles: true }));
    target.querySelector<HTMLButtonElement>("[data-testid=save-settings]")!.click();
    await vi.waitFor(() => expect(target.querySelector("[data-testid='error-gateway.port']")?.textContent).toContain("between 1 and 65535"));
    expect(saved).toEqual([]);
  });
});
