// The only module that talks to Tauri: commands and the one event channel. Commands about
// one gateway take its profile id.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { Applied, ExportKind, IbcLever, IncidentView, LatencyRange, LatencySeries, MorningSummary, Settings, UiSnapshot, UptimeDay } from "./types";

export type { AppError, Applied, ExportKind, GatewayView, IbcLever, IncidentView, LatencyRange, LatencySeries, LogEntry, MorningSummary, Occurrence, Settings, UiSnapshot, UptimeDay } from "./types";

export const getSnapshot = () => invoke<UiSnapshot>("get_snapshot");
export const reconnectNow = (gateway: string) => invoke<void>("reconnect_now", { gateway });
export const pause = (minutes: number | null) => invoke<void>("pause", { minutes });
export const resume = () => invoke<void>("resume");

/** Calls `onChange` whenever the backend says something happened. */
export function onBackendEvent(onChange: () => void): Promise<UnlistenFn> {
  return listen("gatewatch://event", onChange);
}

export const getSettings = () => invoke<Settings>("get_settings");
export const saveSettings = (settings: Settings) => invoke<Applied>("save_settings", { settings });

/** Latency charts of several gateways over a range, one series each, in the order asked. */
export const getLatency = (gateways: string[], range: LatencyRange) => invoke<LatencySeries[]>("get_latency", { gateways, range });

/** Incidents of one gateway (or every one) since a time, newest first. */
export const getIncidents = (gateway: string | null, sinceMs: number) => invoke<IncidentView[]>("get_incidents", { gateway, sinceMs });
export const getUptime = (gateway: string, days: number) => invoke<UptimeDay[]>("get_uptime", { gateway, days });
export const getMorningSummary = () => invoke<MorningSummary | null>("get_morning_summary");

/** Writes a CSV file into the Downloads folder; resolves to its path. */
export const exportCsv = (gateway: string, kind: ExportKind, sinceMs: number) => invoke<string>("export_csv", { gateway, kind, sinceMs });

export const openLogFolder = () => invoke<void>("open_log_folder");

/** Pulls an IBC lever of a gateway (the caller has asked the user to confirm). */
export const pullIbcLever = (gateway: string, lever: IbcLever) => invoke<string>("pull_ibc_lever", { gateway, lever });
