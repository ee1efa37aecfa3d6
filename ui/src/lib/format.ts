// Number formatting that survives the locales webviews report oddly (WebKitGTK says "C" under
// LANG=C.UTF-8, and Intl throws a RangeError for it).

export function safeLocale(candidate: string | undefined): string {
  if (!candidate) return "en-US";
  try {
    new Intl.NumberFormat(candidate);
    return candidate;
  } catch {
    return "en-US";
  }
}

const locale = safeLocale(typeof navigator === "undefined" ? undefined : navigator.language);

export function formatNumber(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

export function formatMicros(us: number | null | undefined): string {
  if (us === null || us === undefined) return "–";
  return `${formatNumber(us / 1000, 2)} ms`;
}
