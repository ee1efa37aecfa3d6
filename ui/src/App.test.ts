// The whole UI against a mocked backend (no window, no Tauri): the overview of two gateways,
// the keyboard between cards and into a gateway's detail, the event log's gateway filter,
// and the settings form's profiles (add, rename, disable, remove, a refused field at its
// place inside its profile).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { mount, unmount, tick } from "svelte";

vi.mock("uplot", () => ({
  default: class {
    static join() {
      return [[]];
    }
    setData() {}
    destroy() {}
  },
}));

import App from "./App.svelte";

const notifications = { enabled: true, hold_secs: 5, disconnected: true, handshake_stalled: true, ib_link_lost: true, zombie_sockets: true, slow_or_lost_pings: true, recovered: true, overdue: true, relogin_reminders: true, sound: false };
const calendar = { margin_secs: 120, restart_takes_secs: 180, grace_secs: 180, relogin_reminders_mins: [420, 60], server_windows: [] };
const schedule = { region: "north_america", daily: { action: "restart", time: "23:45", time_zone: null }, ibc: { manages_login: false, command_server: null } };
const monitoring = { ping_interval_ms: 1000, ping_timeout_ms: 800, slow_ping_ms: 250, timeouts: { tcp_connect_ms: 1000, version_exchange_ms: 3000, start_api_ms: 5000, first_ping_ms: 3000, request_ms: 10000 } };
const profile = (id: string, name: string, port: number) => ({
  id, name, host: "127.0.0.1", port, client_id: 901, fallback_client_id: 902, enabled: true, monitoring: null, notifications: null, schedule,
});
let settings: any;

const base = {
  latency: { last_rtt_us: 420, last_ping_ms: 0, windows: [["one_minute", { sent: 60, lost: 0, late: 0, p50_us: 412, p95_us: 900, p99_us: 950, max_us: 1000 }]] },
  positions: [],
  account_summary: [],
  data_updated_ms: null,
  worker: { pid: 1, restarts: 0 },
  zombies: { ours: 0, gateway: 0, other_clients: 0 },
  last_error: null,
  since_ms: Date.now() - 125_000,
  upcoming: [],
  ibc_levers: false,
  problems: [],
};

const live = {
  ...base,
  id: "live",
  name: "TWS live",
  state: { state: "connected", server_version: 178, encoding: "classic_text", accounts: ["U1234567"], client_id: 901, since_ms: 0 },
  accounts: [{ id: "U1234567", paper: false }],
  last_problem: null,
  status_line: "TWS live: Connected · 0.42 ms",
  tone: "connected",
  ibc_levers: true,
  upcoming: [
    { kind: "daily_restart", label: "nightly restart", starts_ms: Date.now() + (3 * 60 + 12) * 60_000 + 30_000, ends_ms: null, expected_from_ms: 0, expected_until_ms: 0, overdue_at_ms: null, needs_2fa: false, ibc_login: false, local: "Mon 23:45 EST" },
  ],
  positions: [
    {
      account: "U1234567",
      instrument: { con_id: 1, symbol: "AAPL", sec_type: "STK", expiry: "", strike: null, right: null, currency: "USD" },
      quantity: 300, average_cost: 198.4, market_price: 232.5, market_value: 69750, unrealized_pnl: 10230,
    },
  ],
};

const paper = {
  ...base,
  id: "paper",
  name: "Gateway paper",
  state: { state: "circuit_open", failures: 5, since_ms: 0, probe_every_ms: 2000, answering: false, next_full_try_ms: 0 },
  accounts: [{ id: "DU1234567", paper: true }],
  last_problem: { gateway: "paper", at_ms: 0, kind: "failure", text: "connect attempt 5 failed: refused", expected: false },
  status_line: "Gateway paper: Gateway down for 2 min — checking every 2 s",
  tone: "disconnected",
  last_error: { code: "gateway_unreachable", message: "TCP connect: refused", stage: "tcp_connect" },
  latency: { last_rtt_us: 420, last_ping_ms: 0, windows: [["one_minute", { sent: 40, lost: 20, late: 0, p50_us: 260, p95_us: 900, p99_us: 950, max_us: 1000 }]] },
};

const snapshot = {
  gateways: [live, paper],
  recent_events: [
    { gateway: "live", at_ms: 1, kind: "state", text: "state: connected", expected: false },
    { gateway: "paper", at_ms: 2, kind: "failure", text: "connect attempt 5 failed: refused", expected: false },
  ],
  status_line: "Gateway paper: Gateway down for 2 min — checking every 2 s",
  demo: false,
  close_wait_available: true,
  settings_problem: null,
  settings_migrated_from: null,
  settings_ignored: ["profiles[0].clientId"],
  history_problem: null,
  endpoints: { serving: null as string | null, problem: null as string | null },
};

let target: HTMLElement;
let app: ReturnType<typeof mount>;
let saved: any[] = [];
let reconnected: string[] = [];
let levers: any[] = [];
let incidents: any[] = [];
let morning: any = null;

beforeEach(() => {
  saved = [];
  reconnected = [];
  localStorage.clear();
  incidents = [
    { id: 2, gateway: "paper", kind: "zombie", started_ms: 2, ended_ms: 3, expected: false, line: "Zombie Sun 02:13:00–02:31:00, 18 min 0 s, 3 CLOSE_WAIT on the gateway" },
    { id: 1, gateway: "paper", kind: "down", started_ms: 0, ended_ms: 1, expected: true, line: "Down Sat 23:45:03–23:46:01, 58 s, nightly restart (expected)" },
  ];
  morning = { since_ms: 1000, text: "Since yesterday 18:00: 2 incidents, 1 unexpected (Gateway paper, 18 min down).", incidents: 2, unexpected: 1 };
  levers = [];
  settings = { profiles: [profile("live", "TWS live", 7496), profile("paper", "Gateway paper", 4002)], monitoring, notifications, start_minimized: false, start_at_login: false, calendar, history: { raw_hours: 48, minute_days: 90, event_days: 365 }, endpoints: { enabled: false, listen: "127.0.0.1:7489", token_file: null } };
  mockIPC(
    (cmd, args: any) => {
      switch (cmd) {
        case "get_snapshot":
          return snapshot;
        case "get_latency":
          return args.gateways.map(() => ({ t: [], rtt_ms: [], lost_t: [], typical_ms: [], p50_ms: null, p95_ms: null, pings: 0, lost: 0, bucket_secs: 1, source: "pings", note: null }));
        case "get_incidents":
          return incidents;
        case "get_uptime":
          return [];
        case "get_morning_summary":
          return morning;
        case "get_settings":
          return structuredClone(settings);
        case "reconnect_now":
          reconnected.push(args.gateway);
          return null;
        case "pull_ibc_lever":
          levers.push(args);
          return "OK Restart in progress";
        case "save_settings": {
          const next = args.settings;
          const bad = next.profiles.findIndex((p: any) => p.port === 0);
          if (bad >= 0) {
            throw { code: "invalid_settings", message: "some settings are invalid", fields: [{ field: `profiles[${bad}].port`, message: "must be between 1 and 65535" }] };
          }
          saved.push(next);
          settings = next;
          return { started: [], restarted: [], stopped: [] };
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

const cards = () => [...target.querySelectorAll<HTMLButtonElement>("[data-testid=card]")];
const key = (element: Element, key: string) => element.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));

describe("overview", () => {
  it("shows one card per gateway with its state, badges, median and last problem", async () => {
    await vi.waitFor(() => expect(cards().length).toBe(2));
    const [first, second] = cards();
    expect(first.dataset.state).toBe("connected");
    expect(first.querySelector("[data-testid=card-state]")?.textContent).toBe("Connected · 0.42 ms");
    expect(first.querySelector("[data-testid=card-account]")?.textContent).toBe("U1234567 · live");
    expect(first.querySelector("[data-testid=card-latency]")?.textContent).toContain("0.41 ms");
    expect(first.querySelector("[data-testid=card-since]")?.textContent).toBe("up for 2 min");
    expect(second.dataset.state).toBe("circuit_open");
    expect(second.dataset.tone).toBe("disconnected");
    expect(second.querySelector(".symbol")?.textContent).toBe("✕");
    expect(second.querySelector("[data-testid=card-account]")?.textContent).toBe("DU1234567 · paper");
    expect(second.querySelector("[data-testid=card-problem]")?.textContent).toContain("connect attempt 5 failed");
    // Down: the last minute's figures are not current, so the last ping is shown with its age.
    expect(second.querySelector("[data-testid=card-lost]")).toBeNull();
    expect(second.querySelector("[data-testid=card-latency]")?.textContent).toMatch(/^last ping 0.42 ms, .* ago$/);
    expect(first.querySelector("[data-testid=card-lost]")).toBeNull();
    expect(target.querySelector("[data-testid=status-line]")?.textContent).toContain("Gateway paper: Gateway down for 2 min");
    expect(target.querySelector("[data-testid=settings-ignored]")?.textContent).toContain("profiles[0].clientId");
  });

  it("moves between cards with the arrows, opens one with Enter and goes back with Escape", async () => {
    await vi.waitFor(() => expect(cards().length).toBe(2));
    cards()[0].focus();
    key(cards()[0], "ArrowRight");
    expect(document.activeElement).toBe(cards()[1]);
    cards()[1].click(); // Enter on a focused button is a click
    await vi.waitFor(() => expect(target.querySelector("[data-testid=gateway-name]")?.textContent).toBe("Gateway paper"));
    expect(target.querySelector("[data-testid=last-error]")?.textContent).toContain("refused");
    expect(target.textContent).toMatch(/Is TWS or IB Gateway running/);
    expect(target.querySelector("[data-testid=zombies]")?.textContent).toBe("sockets stuck in CLOSE_WAIT: 0 by the gateway · 0 by Gatewatch");
    target.querySelector<HTMLButtonElement>("header button:nth-of-type(2)")!.click();
    await vi.waitFor(() => expect(reconnected).toEqual(["paper"]));
    key(window.document.body, "Escape");
    await vi.waitFor(() => expect(cards().length).toBe(2));
    await tick();
    expect(document.activeElement).toBe(cards()[1]);
  });

  it("says CLOSE_WAIT is not counted where the platform cannot count it, never 0", async () => {
    snapshot.close_wait_available = false;
    try {
      await vi.waitFor(() => expect(cards().length).toBe(2));
      cards()[1].click();
      await vi.waitFor(() => expect(target.querySelector("[data-testid=zombies]")?.textContent).toBe("sockets stuck in CLOSE_WAIT: not available on this platform"));
    } finally {
      snapshot.close_wait_available = true;
    }
  });

  it("shows what comes next on the card and pulls an IBC lever only once confirmed", async () => {
    await vi.waitFor(() => expect(cards().length).toBe(2));
    expect(cards()[0].querySelector("[data-testid=card-next]")?.textContent).toBe("next: nightly restart Mon 23:45 EST (in 3 h 12 min)");
    cards()[0].click();
    await vi.waitFor(() => expect(target.querySelector("[data-testid=ibc-levers]")).not.toBeNull());
    expect(target.querySelector("[data-testid=upcoming]")?.textContent).toContain("nightly restart Mon 23:45 EST");
    target.querySelector<HTMLButtonElement>("[data-testid=ibc-soft_restart]")!.click();
    await vi.waitFor(() => expect(target.querySelector("[data-testid=ibc-confirm]")?.textContent).toContain("RESTART"));
    expect(levers).toEqual([]);
    target.querySelector<HTMLButtonElement>("[data-testid=ibc-confirm-no]")!.click();
    await tick();
    expect(target.querySelector("[data-testid=ibc-confirm]")).toBeNull();
    expect(levers).toEqual([]);
    target.querySelector<HTMLButtonElement>("[data-testid=ibc-soft_restart]")!.click();
    await tick();
    target.querySelector<HTMLButtonElement>("[data-testid=ibc-confirm-yes]")!.click();
    await vi.waitFor(() => expect(target.querySelector("[data-testid=ibc-result]")?.textContent).toBe("IBC answered: OK Restart in progress"));
    expect(levers).toEqual([{ gateway: "live", lever: "soft_restart" }]);
  });

  it("names the gateway on every log line and filters by gateway", async () => {
    await vi.waitFor(() => expect(target.querySelectorAll("[data-testid=log] li").length).toBe(2));
    expect(target.querySelector("[data-testid=log] li")?.textContent).toContain("Gateway paper");
    const select = target.querySelector<HTMLSelectElement>("[data-testid=log-gateway]")!;
    [...select.options].find((o) => o.value === "live")!.selected = true;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect(target.querySelectorAll("[data-testid=log] li").length).toBe(1));
    expect(target.querySelector("[data-testid=log] li")?.getAttribute("data-gateway")).toBe("live");
  });
});

describe("settings", () => {
  async function openSettings() {
    await vi.waitFor(() => expect(target.querySelector("[data-testid=nav-settings]")).not.toBeNull());
    target.querySelector<HTMLButtonElement>("[data-testid=nav-settings]")!.click();
    await vi.waitFor(() => expect(target.querySelectorAll("[data-testid=profile]").length).toBe(2));
  }
  const input = (name: string) => target.querySelector<HTMLInputElement>(`input[name='${name}']`)!;
  const type = (name: string, value: string) => {
    input(name).value = value;
    input(name).dispatchEvent(new Event("input", { bubbles: true }));
  };
  const save = () => target.querySelector<HTMLButtonElement>("[data-testid=save-settings]")!.click();

  it("adds, renames, disables and removes profiles", async () => {
    await openSettings();
    target.querySelector<HTMLButtonElement>("[data-testid=add-profile]")!.click();
    await vi.waitFor(() => expect(target.querySelectorAll("[data-testid=profile]").length).toBe(3));
    type("profiles[2].name", "VPS");
    type("profiles[0].name", "TWS live 2");
    input("profiles[1].enabled").click();
    save();
    await vi.waitFor(() => expect(saved.length).toBe(1));
    expect(saved[0].profiles.map((p: any) => [p.name, p.enabled, p.port])).toEqual([
      ["TWS live 2", true, 7496],
      ["Gateway paper", false, 4002],
      ["VPS", true, 7497],
    ]);
    await vi.waitFor(() => expect(target.querySelector("[data-testid=saved]")?.textContent).toBe("Saved."));
    target.querySelectorAll<HTMLButtonElement>("[data-testid=remove-profile]")[1].click();
    save();
    await vi.waitFor(() => expect(saved.length).toBe(2));
    expect(saved[1].profiles.map((p: any) => p.name)).toEqual(["TWS live 2", "VPS"]);
  });

  it("turns the metrics endpoints on with a token file and says where they are served", async () => {
    snapshot.endpoints = { serving: "127.0.0.1:7489", problem: null };
    await openSettings();
    input("endpoints.enabled").click();
    type("endpoints.listen", "0.0.0.0:7489");
    type("endpoints.token_file", " /etc/gatewatch/token ");
    save();
    await vi.waitFor(() => expect(saved.length).toBe(1));
    expect(saved[0].endpoints).toEqual({ enabled: true, listen: "0.0.0.0:7489", token_file: "/etc/gatewatch/token" });
    expect(target.querySelector("[data-testid=endpoints-serving]")?.textContent).toBe("Serving http://127.0.0.1:7489/metrics");
    snapshot.endpoints = { serving: null, problem: null };
  });

  it("shows a refused field inside its profile and saves nothing", async () => {
    await openSettings();
    type("profiles[1].port", "0");
    save();
    const error = await vi.waitFor(() => {
      const e = target.querySelector("[data-testid='error-profiles[1].port']");
      expect(e).not.toBeNull();
      return e!;
    });
    expect(error.textContent).toContain("between 1 and 65535");
    expect(error.closest("[data-testid=profile]")).toBe(target.querySelectorAll("[data-testid=profile]")[1]);
    expect(saved).toEqual([]);
  });
});

describe("history", () => {
  it("shows the morning summary until it is dismissed", async () => {
    await vi.waitFor(() => expect(target.querySelector("[data-testid=morning-summary]")?.textContent).toContain("1 unexpected (Gateway paper, 18 min down)"));
    target.querySelector<HTMLButtonElement>("[data-testid=dismiss-summary]")!.click();
    await tick();
    expect(target.querySelector("[data-testid=morning-summary]")).toBeNull();
    expect(localStorage.getItem("gatewatch.summaryDismissedSince")).toBe("1000");
  });

  it("lists a gateway's incidents and filters them by kind and by the calendar", async () => {
    await vi.waitFor(() => expect(cards().length).toBe(2));
    cards()[1].click();
    const lines = () => [...target.querySelectorAll("[data-testid=incident]")].map((li) => li.textContent);
    await vi.waitFor(() => expect(lines()).toHaveLength(2));
    expect(lines()[0]).toContain("3 CLOSE_WAIT on the gateway");
    const expected = target.querySelector<HTMLSelectElement>("[data-testid=incident-expected]")!;
    expected.value = "unexpected";
    expected.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect(lines()).toEqual([incidents[0].line]));
    const kind = target.querySelector<HTMLSelectElement>("[data-testid=incident-kind]")!;
    kind.value = "down";
    kind.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect(target.querySelector("[data-testid=no-incidents]")?.textContent).toBe("No incidents match these filters."));
  });
});
