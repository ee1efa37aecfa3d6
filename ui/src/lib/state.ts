// Typed readers of the connection state union, so components never guess at fields.
import type { ConnectionState } from "./backend/types";
import type { DegradedReason } from "./backend/bindings/DegradedReason";

/** The handshake stage being attempted, while connecting. */
export function stageOf(state: ConnectionState): string | null {
  return state.state === "connecting" && state.stage ? state.stage.replace("_", " ") : null;
}

/** The negotiated server version, while connected. */
export function serverVersionOf(state: ConnectionState): number | null {
  if (state.state === "connected") return state.server_version;
  if (state.state === "degraded") return state.session.server_version;
  return null;
}

/** Why a live connection is degraded, as short phrases. */
export function reasonsOf(state: ConnectionState): string[] {
  if (state.state !== "degraded") return [];
  return state.reasons.map((r: DegradedReason) => {
    const name = r.reason.replace(/_/g, " ");
    return r.reason === "farm_broken" ? `${name}: ${r.farm}` : name;
  });
}
