// The only module that talks to Tauri: commands and the one event channel. Commands about
// one gateway take its profile id.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { Applied, IbcLever, LatencySeries, Settings, UiSnapshot } from "./types";

export type { AppError, Applied, GatewayView, IbcLever, LatencySeries, LogEntry, Occurrence, Settings, UiSnapshot } from "./types";

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

export const getLatency = (gateway: string, windowSecs: number) => invoke<LatencySeries>("get_latency", { gateway, windowSecs });

export const openLogFolder = () => invoke<void>("open_log_folder");

/** Pulls an IBC lever of a gateway (the caller has asked the user to confirm). */
export const pullIbcLever = (gateway: string, lever: IbcLever) => invoke<string>("pull_ibc_lever", { gateway, lever });
