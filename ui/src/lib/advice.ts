// What a trader should do about the last error, by its code and stage.
export function advice(error: { code: string; stage?: string | null } | null): string | null {
  if (!error) return null;
  switch (error.code) {
    case "gateway_unreachable":
      return "Is TWS or IB Gateway running, on this port, with the API enabled (Configure → API → Settings)?";
    case "handshake_timeout":
      return error.stage === "version_exchange"
        ? "The port accepts connections but the API never answers: a zombie gateway, or a dialog waiting in TWS. Restart the gateway if it persists."
        : "The API answered but never became ready (no nextValidId): check that the API is fully enabled, or restart the gateway.";
    case "client_id_in_use":
      return "Another client holds this client id (326). Pick another id in Settings, or restart the gateway to free it.";
    case "handshake_rejected":
      return "The gateway closed the connection: check Trusted IPs and the 'Accept incoming connection' prompt.";
    default:
      return null;
  }
}

/** The summary tags shown per account, in this order. */
export const SUMMARY_TAGS = ["NetLiquidation", "TotalCashValue", "BuyingPower", "AvailableFunds", "ExcessLiquidity", "MaintMarginReq"];
