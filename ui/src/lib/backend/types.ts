// The shapes the backend sends, generated from the Rust types by ts-rs into ./bindings.
// `crates/app/tests/bindings.rs` fails when they drift; regenerate with
// `GATEWATCH_BLESS=1 cargo test -p gatewatch-app --test bindings`.

export type { AppError } from "./bindings/AppError";
export type { ConnectionState } from "./bindings/ConnectionState";
export type { Instrument } from "./bindings/Instrument";
export type { LatencySeries } from "./bindings/LatencySeries";
export type { LogEntry } from "./bindings/LogEntry";
export type { Position } from "./bindings/Position";
export type { Settings } from "./bindings/Settings";
export type { SummaryRow } from "./bindings/SummaryRow";
export type { UiSnapshot } from "./bindings/UiSnapshot";
