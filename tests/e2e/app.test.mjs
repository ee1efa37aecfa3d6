// The real app binary in a real window (under Xvfb), driven through WebKitWebDriver, watching
// a gatewatch-sim process this test controls over its control port.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer, connect } from "node:net";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { remote } from "webdriverio";

const root = resolve(import.meta.dirname, "../..");
const bin = (name) => join(root, "target", "debug", name);
const children = [];
let browser;
let control;
let settingsFile;

function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function startSimulator() {
  const sim = spawn(bin("gatewatch-sim"), ["--port", "0", "--control-port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(sim);
  return new Promise((done, fail) => {
    createInterface({ input: sim.stdout }).once("line", (line) => {
      const fields = Object.fromEntries(line.split(" ").filter((w) => w.includes("=")).map((w) => w.split("=")));
      done({ api: Number(fields.api.split(":")[1]), control: Number(fields.control.split(":")[1]) });
    });
    sim.once("exit", (code) => fail(new Error(`simulator exited with ${code}`)));
  });
}

/** Sends one fault command to the simulator and returns its reply (which must be "ok…"). */
function simulator(command) {
  return new Promise((done, fail) => {
    const socket = connect(control, "127.0.0.1", () => socket.write(command + "\n"));
    socket.once("data", (reply) => {
      socket.end();
      String(reply).startsWith("ok") ? done(String(reply)) : fail(new Error(`${command}: ${reply}`));
    });
  });
}

const stateOf = async () => (await browser.$("header")).getAttribute("data-state");

before(async () => {
  const ports = await startSimulator();
  control = ports.control;
  const dir = mkdtempSync(join(tmpdir(), "gatewatch-e2e-"));
  const settings = join(dir, "settings.json");
  settingsFile = settings;
  writeFileSync(settings, JSON.stringify({ gateway: { port: ports.api, client_id: 901 }, notifications: { hold_secs: 1 } }));
  const driverPort = await freePort();
  const driver = spawn("WebKitWebDriver", [`--port=${driverPort}`, "--host=127.0.0.1"], {
    stdio: "ignore",
    env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: "true" },
  });
  children.push(driver);
  await new Promise((r) => setTimeout(r, 500));
  browser = await remote({
    hostname: "127.0.0.1",
    port: driverPort,
    logLevel: "warn",
    capabilities: {
      "wdio:enforceWebDriverClassic": true,
      "webkitgtk:browserOptions": { binary: bin("gatewatch"), args: ["--settings", settings] },
    },
  });
});

after(async () => {
  if (browser) {
    mkdirSync(join(root, "target", "e2e"), { recursive: true });
    await browser.saveScreenshot(join(root, "target", "e2e", "main-window.png")).catch(() => {});
    await browser.deleteSession().catch(() => {});
  }
  for (const child of children.reverse()) child.kill();
});

test("the window reaches Connected with the simulator's accounts", async () => {
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000, timeoutMsg: "never connected" });
  const accounts = await browser.$$("[data-testid=account]").map((a) => a.getText());
  assert.deepEqual(accounts, ["DU1234567 · paper", "DU7654321 · paper"]);
  const errors = await browser.$("#errors").getText();
  assert.equal(errors, "", "the UI raised no error");
});

test("the positions table holds the simulator's positions", async () => {
  await browser.waitUntil(async () => (await browser.$$("[data-testid=positions] tbody tr").length) === 22, {
    timeout: 20000,
    timeoutMsg: "positions never arrived",
  });
  const first = await browser.$("[data-testid=positions] tbody tr td:nth-child(2)").getText();
  assert.match(first, /AAPL/);
});

test("a dropped gateway shows within 2 s, and the window returns to Connected", async () => {
  await simulator("restart 1");
  const dropped = Date.now();
  await browser.waitUntil(async () => (await stateOf()) !== "connected", { timeout: 2000, timeoutMsg: "the drop did not show within 2 s" });
  assert.ok(Date.now() - dropped <= 2000);
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000, timeoutMsg: "never reconnected" });
});

test("invalid settings show an error at the field and leave the settings file unchanged", async () => {
  const before = readFileSync(settingsFile, "utf8");
  const port = await browser.$("input[name='gateway.port']");
  await port.waitForExist({ timeout: 10000 });
  await port.setValue("0");
  await browser.$("[data-testid=save-settings]").click();
  const error = await browser.$("[data-testid='error-gateway.port']");
  await error.waitForExist({ timeout: 5000, timeoutMsg: "no error shown at the port field" });
  assert.match(await error.getText(), /between 1 and 65535/);
  assert.equal(readFileSync(settingsFile, "utf8"), before, "nothing was saved");
});

test("the latency chart receives samples", async () => {
  const samples = await browser.$("[data-testid=latency-points]");
  await browser.waitUntil(async () => parseInt(await samples.getText(), 10) >= 3, {
    timeout: 15000,
    timeoutMsg: "the chart got no samples",
  });
  assert.ok(await browser.$("[data-testid=latency-chart] canvas").isExisting(), "uPlot drew a canvas");
});

/** Notifications the fake service recorded so far. */
function notifications() {
  try {
    return readFileSync(process.env.GATEWATCH_NOTIFICATIONS, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

test("a gateway that stays down gives one disconnect notification, and one on recovery", async () => {
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000 });
  const before = notifications().length;
  await simulator("refuse closed");
  await simulator("drop");
  await browser.waitUntil(async () => notifications().length > before, { timeout: 8000, timeoutMsg: "no disconnect notification" });
  await simulator("refuse off");
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000, timeoutMsg: "never reconnected" });
  await browser.waitUntil(async () => notifications().length >= before + 2, { timeout: 8000, timeoutMsg: "no recovery notification" });
  await new Promise((r) => setTimeout(r, 1500));
  const summaries = notifications().slice(before).map((n) => n.summary);
  assert.deepEqual(summaries, ["Gateway disconnected", "Recovered: gateway disconnected"]);
});

test("a flapping link does not notify per flap", async () => {
  const before = notifications().length;
  await simulator("every 0.4 drop");
  await new Promise((r) => setTimeout(r, 4000));
  await simulator("cancel");
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(notifications().slice(before), [], "no notification for drops shorter than the hold time");
});

/** Tray label/icon changes the fake StatusNotifierWatcher saw. */
function trayStates() {
  try {
    return readFileSync(process.env.GATEWATCH_TRAY, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

test("the tray shows the state and changes when the gateway drops", async () => {
  await browser.waitUntil(async () => trayStates().some((s) => s.label.startsWith("Connected")), {
    timeout: 15000,
    timeoutMsg: `the tray never showed Connected: ${JSON.stringify(trayStates().slice(-3))}`,
  });
  const connectedIcon = trayStates().findLast((s) => s.label.startsWith("Connected")).icon;
  const before = trayStates().length;
  await simulator("refuse closed");
  await simulator("drop");
  await browser.waitUntil(async () => trayStates().slice(before).some((s) => !s.label.startsWith("Connected")), {
    timeout: 5000,
    timeoutMsg: "the tray did not change",
  });
  const down = trayStates().slice(before).find((s) => !s.label.startsWith("Connected"));
  assert.notEqual(down.icon, connectedIcon, "another icon for the bad state");
  await simulator("refuse off");
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000 });
});

test("a second launch hands over to the running app and exits without connecting", async () => {
  await browser.waitUntil(async () => (await stateOf()) === "connected", { timeout: 20000 });
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
  assert.match(await simulator("status"), /clients=1 /, "only the first instance is connected");
});
