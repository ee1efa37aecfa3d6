// Imported first by main.ts, before anything that formats numbers at import time (uPlot
// does): WebKitGTK reports navigator.language as "C" under LANG=C.UTF-8, which Intl rejects
// with a RangeError that would leave the window blank. A locale Intl refuses is replaced by
// en-US for the whole page.
import { safeLocale } from "./format";

const reported = navigator.language;
const usable = safeLocale(reported);
if (usable !== reported) {
  Object.defineProperty(navigator, "language", { get: () => usable, configurable: true });
  Object.defineProperty(navigator, "languages", { get: () => [usable], configurable: true });
}
