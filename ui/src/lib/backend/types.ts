// The shapes the backend sends, generated from the Rust types by ts-rs into ./bindings.
// `crates/app/tests/bindings.rs` fails when they drift; regenerate with
// `GATEWATCH_BLESS=1 cargo test -p gatewatch-app --test bindings`.

export type { AppError } from "./bindings/AppError";
export type { Applied } from "./bindings/Applied";
export type { ConnectionState } from "./bindings/ConnectionState";
export type { GatewayProfile } from "./bindings/GatewayProfile";
export type { GatewayView } from "./bindings/GatewayView";
export type { GatewaySchedule } from "./bindings/GatewaySchedule";
export type { IbcLever } from "./bindings/IbcLever";
export type { Occurrence } from "./bindings/Occurrence";
export type { Instrument } from "./bindings/Instrument";
export type { LatencySeries } from "./bindings/LatencySeries";
export type { LogEntry } from "./bindings/LogEntry";
export type { MonitoringSettings } from "./bindings/MonitoringSettings";
export type { NotificationSettings } from "./bindings/NotificationSettings";
export type { Position } from "./bindings/Position";
export type { Settings } from "./bindings/Settings";
export type { SummaryRow } from "./bindings/SummaryRow";
export type { UiSnapshot } from "./bindings/UiSnapshot";
export type { ExportKind } from "./bindings/ExportKind";
export type { IncidentView } from "./bindings/IncidentView";
export type { LatencyRange } from "./bindings/LatencyRange";
export type { MorningSummary } from "./bindings/MorningSummary";
export type { Retention } from "./bindings/Retention";
export type { UptimeDay } from "./bindings/UptimeDay";
