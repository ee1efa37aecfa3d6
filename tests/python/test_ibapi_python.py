"""The official IB Python client (ibapi-stable 10.50.2) against the simulator, at server
version 213 (protobuf) and capped at 200 and 178 (classic text): the same requests, with
every returned field checked against the simulator's own data."""

import queue
import threading
import time

import pytest
from ibapi.client import EClient
from ibapi.wrapper import EWrapper

WAIT = 5.0
SUMMARY_TAGS = (
    "AccountType,NetLiquidation,TotalCashValue,SettledCash,AccruedCash,BuyingPower,EquityWithLoanValue,"
    "PreviousDayEquityWithLoanValue,GrossPositionValue,RegTEquity,RegTMargin,SMA,InitMarginReq,MaintMarginReq,"
    "AvailableFunds,ExcessLiquidity,Cushion,FullInitMarginReq,FullMaintMarginReq,FullAvailableFunds,"
    "FullExcessLiquidity,DayTradesRemaining,Leverage"
)


class Recorder(EWrapper, EClient):
    """Puts every callback on one queue as (name, args), in arrival order."""

    def __init__(self):
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.events = queue.Queue()

    def _record(self, name, *args):
        self.events.put((name, args))

    def nextValidId(self, orderId):
        self._record("nextValidId", orderId)

    def managedAccounts(self, accountsList):
        self._record("managedAccounts", accountsList)

    def currentTime(self, time_):
        self._record("currentTime", time_)

    def currentTimeInMillis(self, timeInMillis):
        self._record("currentTimeInMillis", timeInMillis)

    def error(self, reqId, errorTime, errorCode, errorString, advancedOrderRejectJson=""):
        self._record("error", reqId, errorCode, errorString)

    def position(self, account, contract, position, avgCost):
        self._record("position", account, contract, position, avgCost)

    def positionEnd(self):
        self._record("positionEnd")

    def accountSummary(self, reqId, account, tag, value, currency):
        self._record("accountSummary", reqId, account, tag, value, currency)

    def accountSummaryEnd(self, reqId):
        self._record("accountSummaryEnd", reqId)

    def updateAccountValue(self, key, val, currency, accountName):
        self._record("updateAccountValue", key, val, currency, accountName)

    def updatePortfolio(self, contract, position, marketPrice, marketValue, averageCost, unrealizedPNL, realizedPNL, accountName):
        self._record("updatePortfolio", contract, position, marketPrice, marketValue, averageCost, unrealizedPNL, realizedPNL, accountName)

    def updateAccountTime(self, timeStamp):
        self._record("updateAccountTime", timeStamp)

    def accountDownloadEnd(self, accountName):
        self._record("accountDownloadEnd", accountName)

    def pnl(self, reqId, dailyPnL, unrealizedPnL, realizedPnL):
        self._record("pnl", reqId, dailyPnL, unrealizedPnL, realizedPnL)

    def openOrderEnd(self):
        self._record("openOrderEnd")

    def completedOrdersEnd(self):
        self._record("completedOrdersEnd")

    def execDetailsEnd(self, reqId):
        self._record("execDetailsEnd", reqId)

    def accountUpdateMultiEnd(self, reqId):
        self._record("accountUpdateMultiEnd", reqId)

    def connectionClosed(self):
        self._record("connectionClosed")

    def next(self, name, timeout=WAIT):
        """The next callback called `name`; other callbacks before it are returned too."""
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name} within {timeout}s; saw {[s[0] for s in skipped]}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event[0] == name:
                return event[1], skipped
            skipped.append(event)

    def collect_until(self, end, timeout=WAIT):
        """All callbacks up to and including `end`, grouped by name."""
        _, before = self.next(end, timeout)
        grouped = {}
        for name, args in before:
            grouped.setdefault(name, []).append(args)
        return grouped


def start(sim, client_id=1):
    app = Recorder()
    app.connect("127.0.0.1", sim.api_port, client_id)
    thread = threading.Thread(target=_run, args=(app,), daemon=True)
    thread.start()
    return app


def _run(app):
    try:
        app.run()
    except TypeError:
        pass  # ibapi 10.50 bug on disconnect from another thread (see the wire-protocol notes)


def ready(sim, client_id=1):
    app = start(sim, client_id)
    app.next("nextValidId")
    return app


def test_connects_at_the_negotiated_version_with_both_accounts(sim, book):
    app = start(sim)
    (order_id,), before = app.next("nextValidId")
    assert order_id == 1
    assert app.serverVersion() == sim.max_version
    accounts = [args for name, args in before if name == "managedAccounts"]
    assert accounts == [(",".join(a["id"] for a in book["accounts"]),)], "managedAccounts arrives before nextValidId"
    farm_codes = [app.next("error")[0][1] for _ in range(3)]
    assert farm_codes == [2104, 2106, 2158]
    app.disconnect()


def test_server_time(sim):
    app = ready(sim)
    app.reqCurrentTime()
    (epoch,), _ = app.next("currentTime")
    assert abs(epoch - time.time()) < 5
    if sim.max_version >= 197:
        app.reqCurrentTimeInMillis()
        (millis,), _ = app.next("currentTimeInMillis")
        assert abs(millis / 1000 - time.time()) < 5
    app.disconnect()


def test_ids_and_managed_accounts_on_request(sim, book):
    app = ready(sim)
    app.reqIds(-1)
    (order_id,), _ = app.next("nextValidId")
    assert order_id == 1
    app.reqManagedAccts()
    (accounts,), _ = app.next("managedAccounts")
    assert accounts == ",".join(a["id"] for a in book["accounts"])
    app.disconnect()


def test_start_up_sync_requests_get_their_end_markers(sim, book):
    """What ib_async waits for at connect: without these ends every connect costs seconds."""
    from ibapi.execution import ExecutionFilter

    app = ready(sim)
    app.reqOpenOrders()
    app.next("openOrderEnd")
    app.reqAllOpenOrders()
    app.next("openOrderEnd")
    app.reqCompletedOrders(True)
    app.next("completedOrdersEnd")
    app.reqExecutions(1_999_999_999, ExecutionFilter())
    (req_id,), _ = app.next("execDetailsEnd")
    assert req_id == 1_999_999_999
    app.reqAccountUpdatesMulti(31, book["accounts"][0]["id"], "", False)
    (req_id,), _ = app.next("accountUpdateMultiEnd")
    assert req_id == 31
    app.disconnect()


def test_positions_match_the_book(sim, book):
    app = ready(sim)
    app.reqPositions()
    got = app.collect_until("positionEnd")["position"]
    expected = [(a["id"], h) for a in book["accounts"] for h in a["holdings"]]
    assert len(got) == len(expected) >= 20
    for (account, contract, position, avg_cost), (want_account, held) in zip(got, expected):
        c = held["contract"]
        assert account == want_account
        assert (contract.conId, contract.symbol, contract.secType) == (c["con_id"], c["symbol"], c["sec_type"])
        assert contract.lastTradeDateOrContractMonth == c["expiry"]
        assert contract.strike == c["strike"]
        assert contract.right == c["right"]
        assert float(contract.multiplier or 0) == (c["multiplier"] or 0)
        assert (contract.exchange, contract.currency) == (c["exchange"], c["currency"])
        assert (contract.localSymbol, contract.tradingClass) == (c["local_symbol"], c["trading_class"])
        assert float(position) == held["quantity"]
        assert avg_cost == held["avg_cost"]
    app.cancelPositions()
    app.disconnect()


def test_account_summary_matches_the_book(sim, book):
    app = ready(sim)
    req_id = 2_000_000_000  # the full int32 must come back
    app.reqAccountSummary(req_id, "All", SUMMARY_TAGS + ",$LEDGER:ALL")
    rows = app.collect_until("accountSummaryEnd")["accountSummary"]
    expected = [
        (req_id, a["id"], v["tag"], v["value"], v["currency"])
        for a in book["accounts"]
        for v in a["summary"] + a["ledger_all"]
    ]
    assert rows == expected
    app.cancelAccountSummary(req_id)
    app.disconnect()


def test_account_updates_match_the_book(sim, book):
    app = ready(sim)
    account = book["accounts"][0]
    app.reqAccountUpdates(True, account["id"])
    got = app.collect_until("accountDownloadEnd")
    values = [(k, v, c, n) for k, v, c, n in got["updateAccountValue"]]
    assert values == [(v["tag"], v["value"], v["currency"], account["id"]) for v in account["account_values"]]
    portfolio = got["updatePortfolio"]
    assert len(portfolio) == len(account["holdings"])
    for (contract, position, price, value, avg_cost, unrealized, realized, name), held in zip(portfolio, account["holdings"]):
        assert contract.conId == held["contract"]["con_id"]
        assert contract.primaryExchange == held["contract"]["primary_exchange"]
        assert float(position) == held["quantity"]
        assert (price, value, avg_cost, unrealized) == (held["price"], held["market_value"], held["avg_cost"], held["unrealized_pnl"])
        assert realized == 0 and name == account["id"]
    assert len(got["updateAccountTime"]) == 1
    app.reqAccountUpdates(False, account["id"])
    app.disconnect()


def test_pnl_matches_the_book(sim, book):
    app = ready(sim)
    account = book["accounts"][1]
    app.reqPnL(17, account["id"], "")
    (req_id, daily, unrealized, realized), _ = app.next("pnl")
    assert (req_id, daily, unrealized, realized) == (17, account["daily_pnl"], account["unrealized_pnl"], account["realized_pnl"])
    app.cancelPnL(17)
    app.disconnect()


def test_a_client_id_in_use_gets_326_then_the_connection_closes(sim):
    first = ready(sim, client_id=5)
    second = start(sim, client_id=5)
    (req_id, code, text), _ = second.next("error")
    assert (req_id, code) == (-1, 326) and "already in use" in text
    second.next("connectionClosed")
    first.reqCurrentTime()
    first.next("currentTime")
    first.disconnect()


def test_a_drop_and_ib_notices_are_observed(sim):
    app = ready(sim)
    for _ in range(3):
        app.next("error")  # start-up farm notices
    sim.control("notice 1100")
    sim.control("notice 1102")
    assert app.next("error")[0][1] == 1100
    assert app.next("error")[0][1] == 1102
    sim.control("drop")
    app.next("connectionClosed")
