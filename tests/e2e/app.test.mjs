// The real app binary in a real window (under Xvfb), driven through WebKitWebDriver, watching
// two gatewatch-sim processes (a live-like one at 178 and a paper one at 213) this test
// controls over their control ports.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer, connect } from "node:net";
import { existsSync, mkdtempSync, writeFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { remote } from "webdriverio";

const root = resolve(import.meta.dirname, "../..");
const bin = (name) => join(root, "target", "debug", name);
const children = [];
let browser;
let live;
let paper;
let settingsFile;
let appHome;
let capabilities;
// No server region and no daily restart: what a test sees cannot depend on the hour it runs at.
const NO_CALENDAR = { region: null, daily: { action: "none" } };

function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Starts a gatewatch-sim process with `args`; resolves to its API and control ports. */
function startSimulator(args = []) {
  const sim = spawn(bin("gatewatch-sim"), ["--port", "0", "--control-port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(sim);
  return new Promise((done, fail) => {
    createInterface({ input: sim.stdout }).once("line", (line) => {
      const fields = Object.fromEntries(line.split(" ").filter((w) => w.includes("=")).map((w) => w.split("=")));
      done({ process: sim, api: Number(fields.api.split(":")[1]), control: Number(fields.control.split(":")[1]) });
    });
    sim.once("exit", (code) => fail(new Error(`simulator exited with ${code}`)));
  });
}

/** Sends one fault command to a simulator and returns its reply (which must be "ok…"). */
function simulator(sim, command) {
  return new Promise((done, fail) => {
    const socket = connect(sim.control, "127.0.0.1", () => socket.write(command + "\n"));
    socket.once("data", (reply) => {
      socket.end();
      String(reply).startsWith("ok") ? done(String(reply)) : fail(new Error(`${command}: ${reply}`));
    });
  });
}

/** The state of gateway `id`'s card in the overview. */
const cardState = async (id) => (await browser.$(`[data-testid=card][data-gateway=${id}]`)).getAttribute("data-state");
/** The words of gateway `id`'s card, and the round trip it shows. */
const cardWords = async (id) => (await browser.$(`[data-testid=card][data-gateway=${id}] [data-testid=card-state]`)).getText();
const cardLatency = async (id) => {
  const fact = await browser.$(`[data-testid=card][data-gateway=${id}] [data-testid=card-latency]`);
  return (await fact.isExisting()) ? fact.getText() : null;
};

/** A screenshot of the window as it is, for docs/screenshots (`make screenshots`). */
async function shot(name) {
  const dir = join(root, "target", "e2e", "states");
  mkdirSync(dir, { recursive: true });
  await browser.saveScreenshot(join(dir, `${name}.png`));
}

const bothConnected = async () => (await cardState("live")) === "connected" && (await cardState("paper")) === "connected";

async function toOverview() {
  await browser.$("[data-testid=nav-gateways]").click();
  await browser.$("[data-testid=card]").waitForExist({ timeout: 5000 });
}

before(async () => {
  live = await startSimulator(["--live", "--max-version", "178"]);
  paper = await startSimulator();
  const dir = mkdtempSync(join(tmpdir(), "gatewatch-e2e-"));
  const settings = join(dir, "settings.json");
  settingsFile = settings;
  writeFileSync(
    settings,
    JSON.stringify({
      profiles: [
        { id: "live", name: "TWS live", port: live.api, client_id: 901, schedule: NO_CALENDAR },
        { id: "paper", name: "Gateway paper", port: paper.api, client_id: 901, schedule: NO_CALENDAR },
      ],
      notifications: { hold_secs: 1, sound: true },
    }),
  );
  const driverPort = await freePort();
  // A home of its own, so the autostart entry the settings write lands here, not in yours.
  appHome = join(dir, "home");
  mkdirSync(appHome);
  const driver = spawn("WebKitWebDriver", [`--port=${driverPort}`, "--host=127.0.0.1"], {
    stdio: "ignore",
    env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: "true", HOME: appHome },
  });
  children.push(driver);
  await new Promise((r) => setTimeout(r, 500));
  capabilities = {
    hostname: "127.0.0.1",
    port: driverPort,
    logLevel: "warn",
    capabilities: {
      "wdio:enforceWebDriverClassic": true,
      "webkitgtk:browserOptions": { binary: bin("gatewatch"), args: ["--settings", settings] },
    },
  };
  browser = await remote(capabilities);
});

/** Whether an app started with this test's settings file still runs. */
function appRunning() {
  try {
    execFileSync("pgrep", ["-f", `${bin("gatewatch")} --settings ${settingsFile}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

after(async () => {
  if (browser) {
    mkdirSync(join(root, "target", "e2e"), { recursive: true });
    await toOverview().catch(() => {});
    await browser.saveScreenshot(join(root, "target", "e2e", "main-window.png")).catch(() => {});
    await browser.deleteSession().catch(() => {});
  }
  for (const child of children.reverse()) child.kill();
});

test("the overview shows both gateways connected, each with its own accounts", async () => {
  await browser.waitUntil(bothConnected, { timeout: 20000, timeoutMsg: "never both connected" });
  const cards = await browser.$$("[data-testid=card]").map((c) => c.getAttribute("data-gateway"));
  assert.deepEqual(cards, ["live", "paper"]);
  const accounts = async (id) => browser.$$(`[data-testid=card][data-gateway=${id}] [data-testid=card-account]`).map((a) => a.getText());
  assert.deepEqual(await accounts("live"), ["U1234567 · live", "U7654321 · live"]);
  assert.deepEqual(await accounts("paper"), ["DU1234567 · paper", "DU7654321 · paper"]);
  const errors = await browser.$("#errors").getText();
  assert.equal(errors, "", "the UI raised no error");
  assert.match(await cardWords("paper"), /^Connected · [\d.]+ ms$/);
  assert.match(await cardLatency("paper"), /^p50 \(1 min\) [\d.]+ ms$/);
  await shot("connected");
});

test("the Content Security Policy refuses an inline script and the window still works under it", async () => {
  const outcome = await browser.executeAsync((done) => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
    window.__inline = "not run";
    const script = document.createElement("script");
    script.textContent = "window.__inline = 'ran';";
    document.head.appendChild(script);
    // The report is a task of its own; wait for it (up to 2 s), not for a fixed time.
    const started = Date.now();
    const check = () => (violations.length > 0 || Date.now() - started > 2000 ? done({ inline: window.__inline, violations }) : setTimeout(check, 50));
    setTimeout(check, 50);
  });
  assert.equal(outcome.inline, "not run", "an inline script must not run");
  assert.ok(
    outcome.violations.some((d) => d.startsWith("script-src")),
    `the policy refused it: ${JSON.stringify(outcome.violations)}`,
  );
  // The cards rendered under the policy, and the UI raised no error.
  assert.equal(await cardState("paper"), "connected");
  assert.equal(await browser.$("#errors").getText(), "");
});

test("a slow gateway reads Slow with its median, not Connected", async () => {
  await settled();
  await simulator(paper, "latency 400");
  // The last minute's median crosses 250 ms once most of its pings were slow.
  await browser.waitUntil(async () => /^Slow \(p50 4\d\d ms\)$/.test(await cardWords("paper")), {
    timeout: 50000,
    timeoutMsg: "a 400 ms gateway never read as slow",
  });
  assert.equal(await cardState("paper"), "degraded");
  assert.match(await cardWords("live"), /^Connected · /, "the neighbour is untouched");
  await shot("slow");
  await simulator(paper, "latency 0");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 60000, timeoutMsg: "never well again" });
});

test("a gateway cut off from IB reads IB servers unreachable (1100)", async () => {
  await settled();
  await simulator(paper, "notice 1100");
  await browser.waitUntil(async () => (await cardWords("paper")) === "IB servers unreachable (1100)", {
    timeout: 5000,
    timeoutMsg: "1100 did not show in words",
  });
  assert.equal(await cardState("paper"), "degraded");
  await shot("ib-unreachable");
  await simulator(paper, "notice 1102");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 10000, timeoutMsg: "1102 did not restore it" });
});

test("a gateway that takes TCP but not the API reads as a zombie, with no current round trip", async () => {
  await settled();
  await simulator(paper, "zombie on");
  await simulator(paper, "drop");
  await browser.waitUntil(async () => /^Gateway not answering the API \(zombie\) for \d+ s — /.test(await cardWords("paper")), {
    timeout: 20000,
    timeoutMsg: "the zombie was not named",
  });
  assert.match(await cardLatency("paper"), /^last ping [\d.]+ ms, \d+ s ago$/, "the last figure with its age, not as current");
  await shot("zombie");
  await simulator(paper, "zombie off");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 30000, timeoutMsg: "never back" });
});

/** Runs axe-core in the window as it is now; resolves to its serious and critical findings. */
async function axeFindings() {
  await browser.execute(readFileSync(join(import.meta.dirname, "node_modules", "axe-core", "axe.min.js"), "utf8"));
  return browser.executeAsync((done) => {
    window.axe.run(document, { resultTypes: ["violations"] }).then(
      (result) =>
        done(
          result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) })),
        ),
      (error) => done([{ id: "axe did not run", help: String(error) }]),
    );
  });
}

test("the overview, a gateway's detail and the settings have no serious accessibility problem (axe-core)", async () => {
  await settled();
  const found = {};
  found.overview = await axeFindings();
  await browser.$("[data-testid=card][data-gateway=paper]").click();
  await browser.$("[data-testid=gateway-name]").waitForExist({ timeout: 5000 });
  found.detail = await axeFindings();
  await browser.$("[data-testid=nav-settings]").click();
  await browser.$("[data-testid=save-settings]").waitForExist({ timeout: 5000 });
  found.settings = await axeFindings();
  await toOverview();
  assert.deepEqual(found, { overview: [], detail: [], settings: [] }, JSON.stringify(found, null, 1));
});

test("Tab reaches every control in turn, each showing where the focus is, and the state is announced", async () => {
  await toOverview();
  await browser.execute(() => document.activeElement?.blur());
  const reached = [];
  for (let i = 0; i < 14; i++) {
    await browser.keys("Tab");
    reached.push(
      await browser.execute(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return { tag: element.tagName, text: (element.textContent ?? "").trim().slice(0, 24), outline: `${style.outlineStyle} ${style.outlineWidth}` };
      }),
    );
  }
  assert.deepEqual(reached.filter((r) => r.tag === "BODY"), [], "the focus never falls off the page");
  assert.deepEqual(reached.filter((r) => r.outline.startsWith("none") || r.outline.endsWith(" 0px")), [], `a visible focus on each: ${JSON.stringify(reached)}`);
  assert.ok(reached.some((r) => r.text.startsWith("TWS live")) && reached.some((r) => r.text.startsWith("Gateway paper")), "both cards are reached");
  const live = await browser.$("[data-testid=status-line]");
  assert.equal(await live.getAttribute("aria-live"), "polite", "the state line is a live region for screen readers");
});

test("four gateways' worth of cards fit a 1000×700 window", async () => {
  await browser.setWindowSize(1000, 700);
  const box = await browser.execute(() => {
    const cards = [...document.querySelectorAll("[data-testid=card]")].map((c) => c.getBoundingClientRect());
    return { bottom: Math.max(...cards.map((r) => r.bottom)), height: cards[0].height, rows: new Set(cards.map((r) => Math.round(r.top))).size, viewport: window.innerHeight };
  });
  // Two cards fill one row of two; two more make a second row of the same height.
  const bottomWithFour = box.bottom + (box.rows === 1 ? box.height + 10 : 0);
  assert.ok(bottomWithFour <= box.viewport, `four cards would end at ${bottomWithFour}px of ${box.viewport}px`);
});

test("a card opens the gateway's detail, with its positions and latency chart; Escape goes back", async () => {
  await browser.$("[data-testid=card][data-gateway=paper]").click();
  await browser.waitUntil(async () => (await browser.$$("[data-testid=positions] tbody tr").length) === 22, {
    timeout: 20000,
    timeoutMsg: "positions never arrived",
  });
  assert.equal(await browser.$("[data-testid=gateway-name]").getText(), "Gateway paper");
  const first = await browser.$("[data-testid=positions] tbody tr td:nth-child(2)").getText();
  assert.match(first, /AAPL/);
  const samples = await browser.$("[data-testid=latency-points]");
  await browser.waitUntil(async () => parseInt(await samples.getText(), 10) >= 3, { timeout: 15000, timeoutMsg: "the chart got no samples" });
  assert.ok(await browser.$("[data-testid=latency-chart] canvas").isExisting(), "uPlot drew a canvas");
  await browser.keys("Escape");
  await browser.$("[data-testid=card]").waitForExist({ timeout: 5000 });
  const focused = await browser.execute(() => document.activeElement?.getAttribute("data-gateway"));
  assert.equal(focused, "paper", "the card it came from has the focus");
  await browser.keys("ArrowLeft");
  assert.equal(await browser.execute(() => document.activeElement?.getAttribute("data-gateway")), "live");
  await browser.keys("Enter");
  await browser.waitUntil(async () => (await browser.$("[data-testid=gateway-name]").getText().catch(() => "")) === "TWS live", { timeout: 5000 });
  await toOverview();
});

test("opening the log folder leaves no process behind, and a failure is said next to the button", async () => {
  await browser.$("[data-testid=card][data-gateway=paper]").click();
  const button = await browser.$("[data-testid=open-log-folder]");
  await button.waitForExist({ timeout: 5000 });
  for (let i = 0; i < 3; i++) await button.click();
  // The opener's launchers get a moment to open (or fail) and be reaped.
  await new Promise((r) => setTimeout(r, 3000));
  const app = execFileSync("pgrep", ["-f", `${bin("gatewatch")} --settings ${settingsFile}`]).toString().trim().split("\n")[0];
  let children = "";
  try {
    children = execFileSync("ps", ["-o", "stat=,comm=", "--ppid", app]).toString();
  } catch {
    children = ""; // no child at all
  }
  const zombies = children.split("\n").filter((line) => line.trim().startsWith("Z"));
  assert.deepEqual(zombies, [], `the app's children: ${children}`);
  // Under Xvfb there may be no file manager: then the button says why, and nothing else breaks.
  const problem = await browser.$("[data-testid=log-folder-problem]");
  if (await problem.isExisting()) assert.match(await problem.getText(), /cannot open/);
  assert.equal(await browser.$("#errors").getText(), "", "no unhandled error");
  await toOverview();
});

test("a dropped gateway shows on its card within 2 s, its neighbour stays connected", async () => {
  await browser.waitUntil(bothConnected, { timeout: 20000 });
  await simulator(paper, "restart 1");
  const dropped = Date.now();
  await browser.waitUntil(async () => (await cardState("paper")) !== "connected", { timeout: 2000, timeoutMsg: "the drop did not show within 2 s" });
  assert.ok(Date.now() - dropped <= 2000);
  assert.equal(await cardState("live"), "connected");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 20000, timeoutMsg: "never reconnected" });
});

test("invalid settings show an error at the field inside its profile and leave the file unchanged", async () => {
  const before = readFileSync(settingsFile, "utf8");
  await browser.$("[data-testid=nav-settings]").click();
  const port = await browser.$("input[name='profiles[1].port']");
  await port.waitForExist({ timeout: 10000 });
  await port.setValue("0");
  await browser.$("[data-testid=save-settings]").click();
  const error = await browser.$("[data-testid='error-profiles[1].port']");
  await error.waitForExist({ timeout: 5000, timeoutMsg: "no error shown at the port field" });
  assert.match(await error.getText(), /between 1 and 65535/);
  assert.equal(readFileSync(settingsFile, "utf8"), before, "nothing was saved");
  await toOverview();
});

test("\"Start Gatewatch when I log in\" writes the desktop's autostart entry, and unticking it removes it", async () => {
  const entry = join(appHome, ".config", "autostart", "gatewatch.desktop");
  const save = async (ticked) => {
    await browser.$("[data-testid=nav-settings]").click();
    const box = await browser.$("input[name='start_at_login']");
    await box.waitForExist({ timeout: 10000 });
    if ((await box.isSelected()) !== ticked) await box.click();
    await browser.$("[data-testid=save-settings]").click();
    await browser.$("[data-testid=saved]").waitForExist({ timeout: 10000, timeoutMsg: "not saved" });
    await toOverview();
  };
  assert.ok(!existsSync(entry), "no entry before it is asked for");
  await save(true);
  const text = readFileSync(entry, "utf8");
  assert.match(text, /^Exec=.*target\/debug\/gatewatch/m, text);
  assert.equal(JSON.parse(readFileSync(settingsFile, "utf8")).start_at_login, true);
  await save(false);
  assert.ok(!existsSync(entry), "the entry is removed");
});

/** Notifications the fake service recorded so far. */
function notifications() {
  try {
    return readFileSync(process.env.GATEWATCH_NOTIFICATIONS, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/**
 * Both gateways connected, and long enough for any recovery still held (the hold is 1 s
 * here) to have been announced, so a test counts only its own notifications.
 */
async function settled() {
  await browser.waitUntil(bothConnected, { timeout: 20000, timeoutMsg: "not both connected" });
  await new Promise((r) => setTimeout(r, 2500));
  await browser.waitUntil(bothConnected, { timeout: 20000, timeoutMsg: "not both connected" });
}

/** Tray label/icon changes the fake StatusNotifierWatcher saw. */
function trayStates() {
  try {
    return readFileSync(process.env.GATEWATCH_TRAY, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

test("a gateway that stays down gives one notification naming it, and one on recovery", async () => {
  await settled();
  const before = notifications().length;
  await simulator(paper, "refuse closed");
  await simulator(paper, "drop");
  await browser.waitUntil(async () => notifications().length > before, { timeout: 8000, timeoutMsg: "no disconnect notification" });
  await simulator(paper, "refuse off");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 20000, timeoutMsg: "never reconnected" });
  await browser.waitUntil(async () => notifications().length >= before + 2, { timeout: 8000, timeoutMsg: "no recovery notification" });
  await new Promise((r) => setTimeout(r, 1500));
  const [down, back] = notifications().slice(before);
  assert.deepEqual([down.summary, back?.summary], ["Gateway paper disconnected", "Gateway paper connected again"]);
  assert.deepEqual(down.actions, ["open", "Open", "reconnect", "Reconnect now"], "the drop offers its buttons");
  assert.equal(down.sound, "dialog-warning", "the warning sound, switched on in these settings");
  assert.equal(back.replaces_id, down.id, "the recovery replaces the drop's notification instead of stacking");
  assert.deepEqual([back.actions, back.sound], [[], null], "a recovery needs no button and no alarm");
});

test("pressing Reconnect now on a drop's notification retries at once", async () => {
  await settled();
  const before = notifications().length;
  await simulator(paper, "refuse closed");
  await simulator(paper, "drop");
  await browser.waitUntil(async () => notifications().length > before, { timeout: 8000, timeoutMsg: "no disconnect notification" });
  const down = notifications()[before];
  assert.equal(down.summary, "Gateway paper disconnected");
  // Five failed connects open the circuit: then only probes run, every 2 s, and with the
  // port still refusing nothing but the button can bring a full connect.
  await browser.waitUntil(async () => (await cardState("paper")) === "circuit_open", { timeout: 20000, timeoutMsg: "the circuit never opened" });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await cardState("paper"), "circuit_open");
  assert.match(await cardWords("paper"), /^Gateway down for \d+ s — checking every 2 s$/);
  assert.match(await cardLatency("paper"), /^last ping [\d.]+ ms, \d+ s ago$/);
  await shot("down");
  writeFileSync(process.env.GATEWATCH_PRESS, JSON.stringify({ id: down.id, action: "reconnect" }) + "\n", { flag: "a" });
  await browser.waitUntil(async () => ["connecting", "reconnecting"].includes(await cardState("paper")), {
    timeout: 3000,
    timeoutMsg: "the button did not bring a connect attempt",
  });
  await simulator(paper, "refuse off");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 20000, timeoutMsg: "never reconnected" });
});

test("a gateway answering every ping too late gives one notification naming it, and one when it is well", async () => {
  await settled();
  const before = notifications().length;
  await simulator(paper, "latency 1500");
  await browser.waitUntil(async () => notifications().length > before, { timeout: 10000, timeoutMsg: "no notification for a gateway answering too late" });
  await new Promise((r) => setTimeout(r, 8000));
  assert.equal(await cardState("live"), "connected", "the neighbour is untouched");
  await simulator(paper, "latency 0");
  await browser.waitUntil(async () => (await cardState("paper")) === "connected", { timeout: 20000, timeoutMsg: "never well again" });
  await browser.waitUntil(async () => notifications().length >= before + 2, { timeout: 10000, timeoutMsg: "no notification when it was well again" });
  await new Promise((r) => setTimeout(r, 1500));
  const summaries = notifications().slice(before).map((n) => n.summary);
  assert.deepEqual(summaries, ["Gateway paper is not answering in time", "Gateway paper answers in time again"]);
});

test("a flapping link does not notify per flap", async () => {
  await settled();
  const before = notifications().length;
  await simulator(paper, "every 0.4 drop");
  await new Promise((r) => setTimeout(r, 4000));
  await simulator(paper, "cancel");
  await browser.waitUntil(bothConnected, { timeout: 20000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(notifications().slice(before), [], "no notification for drops shorter than the hold time");
});

/**
 * Sets the paper gateway's daily restart `afterSecs` from now (UTC, to the second) through
 * the settings form, with a compressed calendar (a restart takes 5 s, 2 s of margin, 5 s of
 * grace: overdue 12 s after the restart time), and restarts its simulator for `downSecs`
 * at that moment, as the gateway's own restart would. Resolves to the restart's epoch ms.
 */
async function plannedRestart(afterSecs, downSecs) {
  await browser.$("[data-testid=nav-settings]").click();
  const time = await browser.$("input[name='profiles[1].schedule.daily.time']");
  await time.waitForExist({ timeout: 10000 });
  const at = (Math.floor(Date.now() / 1000) + afterSecs) * 1000;
  await browser.$("select[name='profiles[1].schedule.daily.action']").selectByAttribute("value", "restart");
  await time.setValue(new Date(at).toISOString().slice(11, 19));
  await browser.$("input[name='profiles[1].schedule.daily.time_zone']").setValue("UTC");
  await browser.$("input[name='calendar.margin_secs']").setValue("2");
  await browser.$("input[name='calendar.restart_takes_secs']").setValue("5");
  await browser.$("input[name='calendar.grace_secs']").setValue("5");
  await browser.$("[data-testid=save-settings]").click();
  await browser.$("[data-testid=saved]").waitForExist({ timeout: 5000, timeoutMsg: "the schedule was not saved" });
  assert.ok(Date.now() < at - 2000, "the schedule was saved before its time");
  setTimeout(() => simulator(paper, `restart ${downSecs}`), at - Date.now());
  await toOverview();
  return at;
}

/** No daily restart for the paper gateway again. */
async function noPlannedRestart() {
  await browser.$("[data-testid=nav-settings]").click();
  const action = await browser.$("select[name='profiles[1].schedule.daily.action']");
  await action.waitForExist({ timeout: 10000 });
  await action.selectByAttribute("value", "none");
  await browser.$("[data-testid=save-settings]").click();
  await browser.$("[data-testid=saved]").waitForExist({ timeout: 5000 });
  await toOverview();
}

/**
 * Every state paper's card shows until `until()` holds, in order, without repeats; `words`
 * gets the card's words the first time each state shows, and a screenshot is taken then of
 * the states named in `shots` (state → file name).
 */
async function paperStatesUntil(until, timeout, shots = {}, words = {}) {
  const seen = [];
  await browser.waitUntil(
    async () => {
      const state = await cardState("paper");
      if (seen.at(-1) !== state) {
        seen.push(state);
        if (!(state in words)) {
          words[state] = await cardWords("paper");
          if (shots[state]) await shot(shots[state]);
        }
      }
      return until(seen);
    },
    { timeout, interval: 100, timeoutMsg: `paper's card showed ${seen.join(" → ")}` },
  );
  return seen;
}

test("a planned restart on schedule shows as expected on its card, with no notification", async () => {
  await settled();
  await plannedRestart(10, 2);
  const before = notifications().length;
  const words = {};
  const seen = await paperStatesUntil((s) => s.includes("scheduled_restart") && s.at(-1) === "connected", 40000, { scheduled_restart: "scheduled-restart" }, words);
  assert.ok(!seen.includes("overdue") && !seen.includes("circuit_open") && !seen.includes("reconnecting"), seen.join(" → "));
  assert.match(words.scheduled_restart, /^(Nightly|Weekly re-login) restart, back by \d\d:\d\d/, "the planned restart in words");
  assert.equal(await cardState("live"), "connected");
  await settled();
  // On a Sunday after 01:00 ET this is the week's first restart, and its return is news.
  const said = notifications().slice(before).map((n) => n.summary).filter((s) => !s.endsWith("is back after the weekly re-login"));
  assert.deepEqual(said, [], "no notification for a planned restart");
  await noPlannedRestart();
});

test("a gateway that stays down past its restart window gives exactly one overdue notification", async () => {
  await settled();
  await plannedRestart(10, 22);
  const before = notifications().length;
  const words = {};
  const seen = await paperStatesUntil((s) => s.includes("overdue") && s.at(-1) === "connected", 60000, { overdue: "overdue" }, words);
  assert.ok(seen.indexOf("scheduled_restart") < seen.indexOf("overdue"), seen.join(" → "));
  assert.match(words.overdue, /^Not back after its (nightly|weekly re-login) restart — down \d+ s$/, "overdue in words");
  await settled();
  const said = notifications().slice(before);
  assert.deepEqual(said.map((n) => n.summary), ["Gateway paper did not come back", "Gateway paper is back"]);
  assert.match(said[0].body, /did not come back after its (nightly|weekly re-login) restart/);
  await noPlannedRestart();
});

test("the tray shows the worst state across gateways, naming the gateway that is down", async () => {
  await browser.waitUntil(async () => trayStates().some((s) => s.label === "All 2 gateways connected"), {
    timeout: 15000,
    timeoutMsg: `the tray never showed both connected: ${JSON.stringify(trayStates().slice(-3))}`,
  });
  const connectedIcon = trayStates().findLast((s) => s.label === "All 2 gateways connected").icon;
  const before = trayStates().length;
  await simulator(paper, "refuse closed");
  await simulator(paper, "drop");
  await browser.waitUntil(async () => trayStates().slice(before).some((s) => s.label.startsWith("Gateway paper: ")), {
    timeout: 5000,
    timeoutMsg: `the tray did not name the gateway: ${JSON.stringify(trayStates().slice(before))}`,
  });
  const down = trayStates().slice(before).find((s) => s.label.startsWith("Gateway paper: "));
  assert.notEqual(down.icon, connectedIcon, "another icon for the bad state");
  await simulator(paper, "refuse off");
  await browser.waitUntil(bothConnected, { timeout: 20000 });
});

test("a second launch hands over to the running app and exits without connecting", async () => {
  await browser.waitUntil(bothConnected, { timeout: 20000 });
  const second = spawn(bin("gatewatch"), ["--settings", settingsFile], { stdio: "ignore" });
  const code = await new Promise((done) => {
    const timer = setTimeout(() => {
      second.kill();
      done("still running after 15 s");
    }, 15000);
    second.once("exit", (status) => {
      clearTimeout(timer);
      done(status);
    });
  });
  assert.equal(code, 0, "the second instance exits cleanly");
  assert.match(await simulator(paper, "status"), /clients=1 /, "only the first instance is connected");
});

test("a killed gateway turns only its own card red, with exactly one notification naming it", async () => {
  await settled();
  const before = notifications().length;
  live.process.kill("SIGKILL");
  await browser.waitUntil(async () => ["circuit_open", "reconnecting", "connecting"].includes(await cardState("live")), {
    timeout: 5000,
    timeoutMsg: "the live card did not show the drop",
  });
  await browser.waitUntil(async () => notifications().length > before, { timeout: 8000, timeoutMsg: "no notification" });
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await cardState("paper"), "connected", "the neighbour is untouched");
  assert.notEqual(await cardState("live"), "connected");
  const said = notifications().slice(before).map((n) => n.summary);
  assert.deepEqual(said, ["TWS live disconnected"]);
});

test("the incident timeline lists the killed gateway's incident, and its day in the uptime strip", async () => {
  await browser.$("[data-testid=card][data-gateway=live]").click();
  const incident = await browser.$("[data-testid=incident][data-kind=down]");
  await incident.waitForExist({ timeout: 15000, timeoutMsg: "no incident in the timeline" });
  assert.match(await incident.getText(), /^Down .*now \(still going\)/);
  const days = await browser.$$("[data-testid=uptime-day]");
  assert.equal(days.length, 30);
  assert.ok(Number(await days[29].getAttribute("data-unexpected-ms")) > 0, "today shows unexpected downtime");
  await toOverview();
});

test("after SIGTERM and a new start, the 24 h chart still has the samples from before and the summary names the trouble", async () => {
  const restartedAt = Date.now();
  // SIGTERM, as a logout or `kill` sends it: the app quits as Quit does and writes its history.
  execFileSync("pkill", ["-TERM", "-f", `${bin("gatewatch")} --settings ${settingsFile}`]);
  await new Promise((done, fail) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (!appRunning()) {
        clearInterval(timer);
        done();
      } else if (Date.now() - started > 15000) {
        clearInterval(timer);
        fail(new Error("the app did not exit"));
      }
    }, 100);
  });
  await browser.deleteSession().catch(() => {});
  browser = await remote(capabilities);
  await browser.waitUntil(async () => (await cardState("paper").catch(() => null)) === "connected", { timeout: 20000, timeoutMsg: "paper never connected after the restart" });
  const summary = await browser.$("[data-testid=morning-summary]");
  await summary.waitForExist({ timeout: 10000, timeoutMsg: "no summary at start" });
  assert.match(await summary.getText(), /unexpected \(.*TWS live/);
  await browser.$("[data-testid=card][data-gateway=paper]").click();
  await browser.$("[data-testid=range-24h]").click();
  const points = await browser.$("[data-testid=latency-points]");
  await browser.waitUntil(async () => (await points.getAttribute("data-source")) === "minutes", { timeout: 10000 });
  const first = Number(await points.getAttribute("data-first-ms"));
  assert.ok(first > 0 && first < restartedAt - 30000, `the chart starts ${restartedAt - first} ms before the restart`);
  assert.ok(Number(await points.getAttribute("data-pings")) >= 30, "the first run's pings are counted");
  await toOverview();
  // The killed gateway was still down when the app quit: that incident ends where watching
  // ended and says so; the new run has one of its own.
  await browser.$("[data-testid=card][data-gateway=live]").click();
  await browser.waitUntil(async () => (await browser.$$("[data-testid=incident][data-kind=down]").length) >= 2, { timeout: 15000, timeoutMsg: "not both incidents of the killed gateway" });
  const lines = await browser.$$("[data-testid=incident][data-kind=down]").map((li) => li.getText());
  assert.match(lines[0], /now \(still going\)/, "the newest, this run's, first");
  assert.match(lines[1], /not watched to its end/);
  await toOverview();
});

test("the desktop session ending (SIGHUP) quits as Quit does: no worker left", async () => {
  const app = execFileSync("pgrep", ["-f", `${bin("gatewatch")} --settings ${settingsFile}`]).toString().trim().split("\n")[0];
  const workers = execFileSync("pgrep", ["-P", app]).toString().trim().split("\n").filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("gatewatch-work");
    } catch {
      return false;
    }
  });
  assert.equal(workers.length, 2, "one worker per gateway before");
  process.kill(Number(app), "SIGHUP");
  await browser.waitUntil(async () => !appRunning(), { timeout: 15000, timeoutMsg: "the app did not quit on SIGHUP" });
  assert.deepEqual(workers.filter((pid) => existsSync(`/proc/${pid}`)), [], "every worker stopped");
  const logs = join(process.env.XDG_DATA_HOME, "gatewatch", "logs");
  const said = readdirSync(logs).map((f) => readFileSync(join(logs, f), "utf8")).join("");
  assert.match(said, /SIGHUP: quitting/, "the app quit on purpose, not by the signal's default");
});
