// Sorting, filtering and per-account totals for the positions table: pure functions,
// unit-tested without a window.
import type { Position } from "./backend/types";

export type SortKey = "account" | "symbol" | "sec_type" | "quantity" | "market_value" | "unrealized_pnl";

function key(p: Position, by: SortKey): string | number {
  switch (by) {
    case "account":
      return p.account;
    case "symbol":
      return p.instrument.symbol;
    case "sec_type":
      return p.instrument.sec_type;
    case "quantity":
      return p.quantity;
    case "market_value":
      return p.market_value ?? -Infinity;
    case "unrealized_pnl":
      return p.unrealized_pnl ?? -Infinity;
  }
}

/** Positions whose account, symbol or type contains `filter` (case-insensitive), sorted. */
export function visiblePositions(positions: Position[], filter: string, by: SortKey, ascending: boolean): Position[] {
  const needle = filter.trim().toLowerCase();
  const matches = (p: Position) =>
    !needle || [p.account, p.instrument.symbol, p.instrument.sec_type, p.instrument.local_symbol ?? ""].some((f) => f.toLowerCase().includes(needle));
  return positions.filter(matches).sort((a, b) => {
    const [x, y] = [key(a, by), key(b, by)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  });
}

export interface AccountTotals {
  account: string;
  marketValue: number;
  unrealizedPnl: number;
}

/** Market value and unrealized PnL summed per account, accounts in first-seen order. */
export function totalsByAccount(positions: Position[]): AccountTotals[] {
  const totals = new Map<string, AccountTotals>();
  for (const p of positions) {
    const t = totals.get(p.account) ?? { account: p.account, marketValue: 0, unrealizedPnl: 0 };
    t.marketValue += p.market_value ?? 0;
    t.unrealizedPnl += p.unrealized_pnl ?? 0;
    totals.set(p.account, t);
  }
  return [...totals.values()];
}
