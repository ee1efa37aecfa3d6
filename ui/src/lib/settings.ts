// Turning a refused save into per-field messages, kept apart from the component so it is
// unit-tested without a window.
import type { AppError } from "./backend/types";

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
