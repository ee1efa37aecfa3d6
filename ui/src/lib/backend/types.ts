// The shapes the backend sends. Issue 5 replaces this file with types generated from the
// Rust types (ts-rs) and a test that fails when they drift; until then it covers only the
// fields the skeleton UI reads.

export interface Instrument {
  con_id: number;
  symbol: string;
  sec_type: string;
  expiry: string;
  strike: number | null;
  right: string | null;
  currency: string;
  local_symbol?: string;
}

export interface Position {
  account: string;
  instrument: Instrument;
  quantity: number;
  average_cost: number;
  market_price: number | null;
  market_value: number | null;
  unrealized_pnl: number | null;
}

export interface LogEntry {
  at_ms: number;
  kind: string;
  text: string;
}

export interface SummaryRow {
  account: string;
  tag: string;
  value: string;
  currency: string;
}

export interface UiSnapshot {
  state: { state: string; stage?: string | null; server_version?: number; session?: { server_version: number }; reasons?: { reason: string; farm?: string }[] };
  account_summary: SummaryRow[];
  worker: { pid: number | null; restarts: number };
  zombies: { ours: number; gateway: number; other_clients: number };
  positions: Position[];
  accounts: { id: string; paper: boolean }[];
  recent_events: LogEntry[];
  status_line: string;
  demo: boolean;
  settings_problem: string | null;
  last_error: { code: string; message: string; stage?: string | null } | null;
}

export interface Settings {
  gateway: { host: string; port: number; client_id: number; fallback_client_id: number | null };
  monitoring: {
    ping_interval_ms: number;
    ping_timeout_ms: number;
    timeouts: Record<string, number>;
  };
  notifications: {
    enabled: boolean;
    hold_secs: number;
    disconnected: boolean;
    handshake_stalled: boolean;
    circuit_open: boolean;
    ib_link_lost: boolean;
    zombie_sockets: boolean;
    recovered: boolean;
  };
  start_minimized: boolean;
}

/** Errors arrive as `{ code, message }`, with the bad fields for `invalid_settings`. */
export interface AppError {
  code: string;
  message: string;
  fields?: { field: string; message: string }[];
}

export interface LatencySeries {
  t: number[];
  rtt_ms: (number | null)[];
  lost_t: number[];
}
