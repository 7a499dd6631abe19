import { describe, expect, it } from "vitest";
import type { LeaderboardRow } from "../src/app/api";
import { DEFAULT_QUERY, matches, pageOf, paramsToQuery, prepare, queryToParams, sortRows } from "../src/app/board";

function row(id: number, stake: bigint, corr: number | null, owner = `0x${String(id).padStart(40, "a")}`): LeaderboardRow {
  return { model_id: id, owner: owner as `0x${string}`, stake: stake.toString(), pending_withdrawal: "0", corr, mmc: null,
    scored_round: corr === null ? null : 3, corr_rolling: null, mmc_rolling: null, rounds_scored: 0,
    cumulative_payout: null, cumulative_burn: null };
}

// Stakes above 2^53 on purpose: sorting must compare them exactly.
const BIG = 2n ** 80n;
const ROWS = [row(1, BIG + 1n, 0.01), row(2, BIG + 3n, null), row(3, BIG + 2n, -0.02), row(4, 5n, 0.01),
  row(42, 7n, 0.03, "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF")];

describe("sortRows", () => {
  it("orders big stakes exactly and numbers the ranks", () => {
    const sorted = sortRows(prepare(ROWS), "stake", true);
    expect(sorted.map((r) => r.row.model_id)).toEqual([2, 3, 1, 42, 4]);
    expect(sorted.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
  });

  it("puts missing scores last in both directions and breaks ties by model id", () => {
    expect(sortRows(prepare(ROWS), "corr", true).map((r) => r.row.model_id)).toEqual([42, 1, 4, 3, 2]);
    expect(sortRows(prepare(ROWS), "corr", false).map((r) => r.row.model_id)).toEqual([3, 1, 4, 42, 2]);
  });
});

describe("search and pages", () => {
  const prepared = sortRows(prepare(ROWS), "model_id", false);

  it("digits match model ids by prefix, other text matches owners case-insensitively", () => {
    expect(prepared.filter((r) => matches(r, "4")).map((r) => r.row.model_id)).toEqual([4, 42]);
    expect(prepared.filter((r) => matches(r, "0xdeadBEEF")).map((r) => r.row.model_id)).toEqual([42]);
    expect(prepared.filter((r) => matches(r, "  ")).length).toBe(5);
  });

  it("pages the matches and clamps the page number", () => {
    const page = pageOf(prepared, { ...DEFAULT_QUERY, pageSize: 2, page: 9 });
    expect(page).toMatchObject({ page: 3, pages: 3, matched: 5, total: 5 });
    expect(page.rows.map((r) => r.row.model_id)).toEqual([42]);
    expect(pageOf(prepared, { ...DEFAULT_QUERY, q: "nobody" })).toMatchObject({ rows: [], matched: 0, pages: 1, page: 1 });
  });

  it("keeps the query in the URL and reads it back, ignoring nonsense", () => {
    const q = { q: "0xdead", sort: "corr" as const, desc: false, page: 3, pageSize: 100 };
    expect(paramsToQuery(queryToParams(q))).toEqual(q);
    expect(queryToParams(DEFAULT_QUERY).toString()).toBe("");
    expect(paramsToQuery(new URLSearchParams("sort=evil&page=-2&size=7"))).toEqual(DEFAULT_QUERY);
  });
});
