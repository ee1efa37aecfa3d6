// The only module that talks to Tauri: commands and the one event channel.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { UiSnapshot } from "./types";

export type { UiSnapshot } from "./types";

export const getSnapshot = () => invoke<UiSnapshot>("get_snapshot");
export const reconnectNow = () => invoke<void>("reconnect_now");
export const pause = (minutes: number | null) => invoke<void>("pause", { minutes });
export const resume = () => invoke<void>("resume");

/** Calls `onChange` whenever the backend says something happened. */
export function onBackendEvent(onChange: () => void): Promise<UnlistenFn> {
  return listen("gatewatch://event", onChange);
}

export type { AppError, Settings } from "./types";
import type { Settings } from "./types";

export const getSettings = () => invoke<Settings>("get_settings");
export const saveSettings = (settings: Settings) => invoke<void>("save_settings", { settings });

export type { LatencySeries } from "./types";
import type { LatencySeries } from "./types";

export const getLatency = (windowSecs: number) => invoke<LatencySeries>("get_latency", { windowSecs });

export const openLogFolder = () => invoke<void>("open_log_folder");
