import { describe, expect, it } from "vitest";
import type { Position } from "./backend/types";
import { totalsByAccount, visiblePositions } from "./positions";

const position = (account: string, symbol: string, sec_type: string, value: number, pnl: number): Position => ({
  account,
  instrument: { con_id: 1, symbol, sec_type, expiry: "", strike: null, right: null, multiplier: null, exchange: "SMART", currency: "USD", local_symbol: symbol, trading_class: symbol },
  quantity: 1,
  average_cost: 1,
  market_price: 1,
  market_value: value,
  unrealized_pnl: pnl,
  realized_pnl: 0,
});

const book = [position("DU1", "AAPL", "STK", 100, 10), position("DU1", "ES", "FUT", 500, -20), position("DU2", "EUR", "CASH", 50, 5)];

describe("positions", () => {
  it("filters by account, symbol or type and sorts either way", () => {
    expect(visiblePositions(book, "fut", "symbol", true).map((p) => p.instrument.symbol)).toEqual(["ES"]);
    expect(visiblePositions(book, "du1", "market_value", false).map((p) => p.instrument.symbol)).toEqual(["ES", "AAPL"]);
    expect(visiblePositions(book, "", "unrealized_pnl", true).map((p) => p.instrument.symbol)).toEqual(["ES", "EUR", "AAPL"]);
  });

  it("totals market value and unrealized PnL per account", () => {
    expect(totalsByAccount(book)).toEqual([
      { account: "DU1", marketValue: 600, unrealizedPnl: -10 },
      { account: "DU2", marketValue: 50, unrealizedPnl: 5 },
    ]);
  });
});
