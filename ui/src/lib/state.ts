// Typed readers of the connection state union, so components never guess at fields.
import type { ConnectionState } from "./backend/types";

const STAGE_WORDS = { tcp_connect: "TCP connect", version_exchange: "version exchange", start_api: "API start-up", first_ping: "first ping" };

/** The handshake stage being attempted, while connecting, in words. */
export function stageOf(state: ConnectionState): string | null {
  return state.state === "connecting" && state.stage ? STAGE_WORDS[state.stage] : null;
}

/** The negotiated server version, while connected. */
export function serverVersionOf(state: ConnectionState): number | null {
  if (state.state === "connected") return state.server_version;
  if (state.state === "degraded") return state.session.server_version;
  return null;
}
