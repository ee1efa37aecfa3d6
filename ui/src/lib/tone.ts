// The symbol each kind of state carries beside its colour and words, so a state reads
// without telling colours apart. The kinds are the backend's tray icons (`GatewayView.tone`).
import type { TrayIcon } from "./backend/bindings/TrayIcon";

export const SYMBOL: Record<TrayIcon, string> = {
  connected: "●",
  paused: "⏸",
  expected: "◷",
  degraded: "▲",
  connecting: "…",
  disconnected: "✕",
};
