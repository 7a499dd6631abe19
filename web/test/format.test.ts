import { describe, expect, it } from "vitest";
import { formatDuration, formatScore, formatTime, formatUnits, parseAmount, shortHex } from "../src/app/format";

describe("formatUnits", () => {
  it("groups thousands and drops trailing zeros", () => {
    expect(formatUnits(1_234_567n * 10n ** 18n, 18)).toBe("1,234,567");
    expect(formatUnits("1500000000000000000", 18)).toBe("1.5");
    expect(formatUnits(0n, 18)).toBe("0");
  });

  it("rounds half away from zero at the shown digit, exactly", () => {
    expect(formatUnits(12_345n * 10n ** 14n, 18, 2)).toBe("1.23"); // 1.2345
    expect(formatUnits(12_350n * 10n ** 14n, 18, 2)).toBe("1.24"); // 1.235
    expect(formatUnits(9_999_999n * 10n ** 12n, 18, 4)).toBe("10"); // 9.999999
    expect(formatUnits(-12_350n * 10n ** 14n, 18, 2)).toBe("−1.24");
  });

  it("keeps amounts beyond 2^53 exact", () => {
    expect(formatUnits(2n ** 96n - 1n, 18, 18)).toBe("79,228,162,514.264337593543950335");
  });

  it("shows a negative amount that rounds to zero as zero", () => {
    expect(formatUnits(-1n, 18, 4)).toBe("0");
  });
});

describe("parseAmount", () => {
  it("reads decimals into the smallest unit", () => {
    expect(parseAmount("250", 18)).toEqual({ value: 250n * 10n ** 18n });
    expect(parseAmount(" 1,000.5 ", 18)).toEqual({ value: 10_005n * 10n ** 17n });
    expect(parseAmount(".25", 18)).toEqual({ value: 25n * 10n ** 16n });
  });

  it("says what is wrong with what is not an amount", () => {
    expect(parseAmount("", 18)).toEqual({ error: "Enter an amount." });
    expect(parseAmount("-3", 18)).toMatchObject({ error: expect.stringContaining('"-3" is not an amount') });
    expect(parseAmount("1.2.3", 18)).toMatchObject({ error: expect.stringContaining("not an amount") });
    expect(parseAmount(".", 18)).toMatchObject({ error: expect.stringContaining("not an amount") });
    expect(parseAmount("0.1234567", 6)).toEqual({ error: "At most 6 digits after the decimal point." });
  });
});

describe("small formats", () => {
  it("scores: fixed digits, a true minus sign, a dash for none", () => {
    expect(formatScore(0.0213)).toBe("0.0213");
    expect(formatScore(-0.00214)).toBe("−0.0021");
    expect(formatScore(-0.00001)).toBe("0.0000");
    expect(formatScore(null)).toBe("—");
    expect(formatScore(Number.NaN)).toBe("—");
  });

  it("durations for countdowns", () => {
    expect(formatDuration(41)).toBe("41 s");
    expect(formatDuration(189)).toBe("3 min 09 s");
    expect(formatDuration(7500)).toBe("2 h 05 min");
    expect(formatDuration(3 * 86_400 + 7200)).toBe("3 d 2 h");
    expect(formatDuration(-5)).toBe("0 s");
  });

  it("chain times in UTC, and short hex", () => {
    expect(formatTime(1_700_000_000)).toBe("2023-11-14 22:13 UTC");
    expect(formatTime(0)).toBe("—");
    expect(shortHex("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")).toBe("0x7099…79C8");
    expect(shortHex("0x1234")).toBe("0x1234");
  });
});
