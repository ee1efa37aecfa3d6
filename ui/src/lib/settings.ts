// Turning a refused save into per-field messages, a new profile's defaults and what a save
// did, kept apart from the component so they are unit-tested without a window.
import type { AppError, Applied, GatewayProfile } from "./backend/types";

export function fieldErrors(error: unknown): Record<string, string> {
  const appError = error as AppError;
  const out: Record<string, string> = {};
  for (const field of appError?.fields ?? []) out[field.field] = field.message;
  if (Object.keys(out).length === 0) out["form"] = appError?.message ?? String(error);
  return out;
}

export const PORT_PRESETS: [string, number][] = [
  ["TWS live", 7496],
  ["TWS paper", 7497],
  ["IB Gateway live", 4001],
  ["IB Gateway paper", 4002],
];

/**
 * A new profile: the first IB default port no profile uses yet, named after it, with the
 * usual monitor client ids (the backend gives it an id when it is saved).
 */
export function newProfile(existing: GatewayProfile[]): GatewayProfile {
  const used = new Set(existing.map((p) => p.port));
  const names = new Set(existing.map((p) => p.name.trim().toLowerCase()));
  const [presetName, port] = PORT_PRESETS.find(([, port]) => !used.has(port)) ?? ["Gateway", 4002];
  let name = presetName;
  for (let n = 2; names.has(name.toLowerCase()); n++) name = `${presetName} ${n}`;
  return {
    id: "",
    name,
    host: "127.0.0.1",
    port,
    client_id: 901,
    fallback_client_id: 902,
    enabled: true,
    monitoring: null,
    notifications: null,
    schedule: {
      region: "north_america",
      daily: { action: "restart", time: "23:45", time_zone: null },
      ibc: { manages_login: false, command_server: null },
    },
  };
}

/** What a save did, in words: "Saved. Restarted: Gateway paper." */
export function describeApplied(applied: Applied, profiles: GatewayProfile[]): string {
  const name = (id: string) => profiles.find((p) => p.id === id)?.name ?? id;
  const parts: string[] = [];
  if (applied.started.length) parts.push(`Started: ${applied.started.map(name).join(", ")}.`);
  if (applied.restarted.length) parts.push(`Restarted: ${applied.restarted.map(name).join(", ")}.`);
  if (applied.stopped.length) parts.push(`Stopped: ${applied.stopped.map(name).join(", ")}.`);
  return ["Saved.", ...parts].join(" ");
}
