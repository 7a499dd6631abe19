/** How numbers, amounts, addresses and times are shown. Pure functions (unit-tested). */

/** `value` (smallest unit) as a decimal with thousands separators, rounded half away from zero to `digits`
 * fraction digits (trailing zeros dropped). Exact: bigint arithmetic, never a float of the whole amount. */
export function formatUnits(value: bigint | string, decimals: number, digits = 4): string {
  let v = typeof value === "bigint" ? value : BigInt(value);
  const negative = v < 0n;
  if (negative) v = -v;
  const shown = Math.min(digits, decimals);
  const scale = 10n ** BigInt(decimals - shown);
  let scaled = v / scale;
  if ((v % scale) * 2n >= scale && scale > 1n) scaled += 1n;
  const unit = 10n ** BigInt(shown);
  const whole = (scaled / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = shown > 0 ? (scaled % unit).toString().padStart(shown, "0").replace(/0+$/, "") : "";
  const text = fraction ? `${whole}.${fraction}` : whole;
  return negative && scaled !== 0n ? `−${text}` : text;
}

/** Parses a decimal typed by a person into the smallest unit; null (with the reason) when it is not one. */
export function parseAmount(text: string, decimals: number): { value: bigint } | { error: string } {
  const clean = text.trim().replace(/[_,\s]/g, "");
  if (!clean) return { error: "Enter an amount." };
  const match = /^(\d*)(?:\.(\d*))?$/.exec(clean);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) {
    return { error: `"${text.trim()}" is not an amount: use digits and at most one decimal point.` };
  }
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) {
    return { error: `At most ${decimals} digits after the decimal point.` };
  }
  const value = BigInt((match[1] || "0") + fraction.padEnd(decimals, "0"));
  return { value };
}

export function formatScore(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? `−${text}` : text;
}

export function shortHex(value: string, head = 6, tail = 4): string {
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}

/** "2 h 05 min", "3 min 09 s", "41 s": a duration of whole seconds for countdowns. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${pad(minutes)} min`;
  if (minutes > 0) return `${minutes} min ${pad(secs)} s`;
  return `${secs} s`;
}

/** A chain timestamp as a UTC date and time (chain clocks are not the reader's wall clock). */
export function formatTime(unix: number | null | undefined): string {
  if (!unix) return "—";
  return new Date(unix * 1000).toISOString().replace("T", " ").replace(/:\d\d\.\d{3}Z$/, " UTC");
}

export function formatInteger(n: number): string {
  return n.toLocaleString("en-US");
}
