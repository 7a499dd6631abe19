/** A deterministic tournament to develop and check the app against, in exactly the shapes of web/API.md:
 * N models (10,000 by default) over 12 daily rounds, times relative to "now" so countdowns run:
 *
 *   round 12 open (closes in 2 h) · 11 closed, awaiting results · 10 proposed, in its challenge window, verified ·
 *   9 active after a vetoed bad root (the auditor named models 17 and 42) and a re-proposal · 6 lapsed ·
 *   every other round active and verified.
 *
 * Scores come from a seeded generator (the same numbers on every run); payouts follow the tournament's rule
 * (stake at risk x clip(CORR + 2 MMC, -5%, +5%)), so the figures hang together. Nothing here is real data. */

import { getAddress, keccak256, toHex, type Hex } from "viem";

export const CHAIN_ID = 31337;
export const TOURNAMENT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" as Hex;
export const TOKEN = { address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Hex, name: "Tournament Stake",
  symbol: "STK", decimals: 18 };
/** Anvil's first development key (public knowledge): the fixture operator signs receipts with it. */
export const OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as Hex;
export const OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" as Hex;

export const ROUNDS = 12;
export const OPEN_ROUND = 12;
export const ROLLING_WINDOW = 20;
export const LIVE_IDS = Array.from({ length: 1000 }, (_, i) => `id${String(i).padStart(4, "0")}`);
const DAY = 86_400;
const UNIT = 10n ** 18n;
const CAP = 0.05;

/** mulberry32: a small seeded PRNG, so every run produces the same tournament. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export function ownerOf(i: number): Hex {
  return getAddress(keccak256(toHex(`owner-${i}`)).slice(0, 42));
}

export interface RoundResult {
  round: number;
  corr: number;
  mmc: number;
  stakeAtRisk: bigint;
  payout: bigint;
  burn: bigint;
}

export interface FixtureModel {
  id: number;
  owner: Hex;
  deposit: bigint;
  results: RoundResult[]; // rounds 1..11 the model was scored in (rounds with results)
  withdrawal: { amount: bigint; afterRound: number; requestedAgo: number; withdrawable: boolean } | null;
}

export type Status = "open" | "closed" | "proposed" | "vetoed" | "active" | "lapsed";

export function roundStatus(round: number): Status {
  if (round === OPEN_ROUND) return "open";
  if (round === 11) return "closed";
  if (round === 10) return "proposed";
  if (round === 6) return "lapsed";
  return "active";
}

/** Rounds whose results count: every proposed or active round (a lapsed round's result is zero). */
const SCORED = Array.from({ length: ROUNDS }, (_, i) => i + 1)
  .filter((r) => ["proposed", "active"].includes(roundStatus(r)));

export function buildModels(count: number): FixtureModel[] {
  const owners = Math.max(1, Math.floor(count / 4));
  const models: FixtureModel[] = [];
  for (let id = 1; id <= count; id++) {
    const r = rng(id * 7919);
    const deposit = BigInt(Math.floor(10 ** (r() * 4) * 100)) * UNIT / 100n; // 1 .. 10,000 tokens, log-uniform
    const firstRound = 1 + Math.floor(r() * 10);
    const skill = normal(r) * 0.01;
    const results: RoundResult[] = [];
    let stake = deposit;
    for (const round of SCORED) {
      if (round < firstRound || r() < 0.1) continue;
      const corr = Math.max(-0.2, Math.min(0.2, skill + 0.01 + normal(r) * 0.03));
      const mmc = Math.max(-0.1, Math.min(0.1, skill / 2 + normal(r) * 0.01));
      const factor = Math.max(-CAP, Math.min(CAP, corr + 2 * mmc));
      const delta = (stake * BigInt(Math.round(factor * 1e6))) / 1_000_000n;
      results.push({ round, corr, mmc, stakeAtRisk: stake, payout: delta > 0n ? delta : 0n, burn: delta < 0n ? -delta : 0n });
      stake += delta;
    }
    const withdrawal = id % 7 === 0
      ? { amount: deposit / 10n, afterRound: 11, requestedAgo: 3 * 3600, withdrawable: id % 21 === 0 }
      : null;
    models.push({ id, owner: ownerOf(1 + Math.floor(r() * owners)), deposit, results, withdrawal });
  }
  return models;
}

/** Cumulative payout and burn of a model through `round` (results of rounds <= round). */
export function cumulative(m: FixtureModel, round: number): { payout: bigint; burn: bigint } {
  let payout = 0n;
  let burn = 0n;
  for (const res of m.results) {
    if (res.round > round) break;
    payout += res.payout;
    burn += res.burn;
  }
  return { payout, burn };
}

export const LAST_ACTIVE = Math.max(...SCORED.filter((r) => roundStatus(r) === "active"));
export const LATEST_SCORED = Math.max(...SCORED);

/** Settled stake: the fixture models are settled through the last active round. */
export function stakeOf(m: FixtureModel): bigint {
  const c = cumulative(m, LAST_ACTIVE);
  return m.deposit + c.payout - c.burn;
}

/** Scores as the API serves them: rounded to 6 decimal places (plenty for a leaderboard, a third of the bytes). */
export function score6(x: number | null | undefined): number | null {
  return x === null || x === undefined ? null : Math.round(x * 1e6) / 1e6;
}

export function leaderboardRow(m: FixtureModel) {
  const latest = m.results[m.results.length - 1];
  const window = m.results.filter((res) => res.round > LATEST_SCORED - ROLLING_WINDOW);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const c = cumulative(m, LAST_ACTIVE);
  return {
    model_id: m.id, owner: m.owner, stake: stakeOf(m).toString(),
    pending_withdrawal: (m.withdrawal?.amount ?? 0n).toString(),
    corr: score6(latest?.corr), mmc: score6(latest?.mmc), scored_round: latest?.round ?? null,
    corr_rolling: score6(mean(window.map((x) => x.corr))), mmc_rolling: score6(mean(window.map((x) => x.mmc))),
    rounds_scored: window.length, cumulative_payout: c.payout.toString(), cumulative_burn: c.burn.toString(),
  };
}

/** Round r's schedule: daily rounds, the open one closing two hours from now. */
export function schedule(round: number, now: number) {
  const closesAt = now + 2 * 3600 - (OPEN_ROUND - round) * DAY;
  const closedAt = round === OPEN_ROUND ? 0 : closesAt + 12;
  return { closesAt, closedAt };
}

export function fakeHash(label: string): Hex {
  return keccak256(toHex(label));
}

export function proposalsOf(round: number, now: number, models: FixtureModel[]) {
  const status = roundStatus(round);
  if (status === "open" || status === "closed" || status === "lapsed") return [];
  const { closedAt } = schedule(round, now);
  const totals = (seq: number) => {
    let payout = 0n, burn = 0n, atRisk = 0n, cumPayout = 0n, cumBurn = 0n;
    for (const m of models) {
      const res = m.results.find((x) => x.round === round);
      if (res) { payout += res.payout; burn += res.burn; atRisk += res.stakeAtRisk; }
      const c = cumulative(m, round);
      cumPayout += c.payout; cumBurn += c.burn;
    }
    if (seq === 0 && round === 9) burn += 450n * UNIT; // the bad root: burns more than the rule allows
    return { round_payout: payout.toString(), round_burn: burn.toString(), cumulative_payout: cumPayout.toString(),
      cumulative_burn: cumBurn.toString(), stake_at_risk: atRisk.toString() };
  };
  const one = (seq: number, proposedAt: number, state: string) => {
    const manifestHash = fakeHash(`manifest-${round}-${seq}`);
    const files = Object.fromEntries(["manifest.json", "predictions.parquet", "targets.parquet", "stakes.parquet",
      "scores.parquet", "tree.json", "submissions.json"].map((name) =>
      [name, name === "manifest.json" ? `bundles/${manifestHash}/manifest.json` : `bundles/${manifestHash}/files/${name}`]));
    const bad = round === 9 && seq === 0;
    return {
      seq, root: fakeHash(`root-${round}-${seq}`), manifest_hash: manifestHash,
      manifest_uri: `file:///srv/tourney/store/rounds/${round}/manifest-${String(seq).padStart(5, "0")}-${manifestHash.slice(2)}.json`,
      proposed_at: proposedAt, proposed_tx: fakeHash(`tx-${round}-${seq}`), activates_at: proposedAt + 3600, state,
      vetoed_at: bad ? proposedAt + 600 : null, vetoed_by: bad ? "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" : null,
      totals: totals(seq), files,
      verdict: {
        ok: !bad, checked_at: proposedAt + 300, status: state, standing: !bad, models: bad ? ["17", "42"] : [],
        differences: bad ? [
          { scope: "leaf", subject: "17", field: "cumulative_burn", recorded: "250000000000000000000", recomputed: "12000000000000000000" },
          { scope: "leaf", subject: "42", field: "cumulative_burn", recorded: "212000000000000000000", recomputed: "0" },
          { scope: "root", subject: "tree", field: "root", recorded: fakeHash(`root-${round}-0`), recomputed: fakeHash(`root-${round}-1`) },
        ] : [],
        differences_count: bad ? 3 : 0, notes: [], warnings: [],
      },
    };
  };
  if (round === 9) {
    return [one(0, closedAt + 3600, "vetoed"), one(1, closedAt + 3 * 3600, "active")];
  }
  if (status === "proposed") return [one(0, now - 20 * 60, "pending")];
  return [one(0, closedAt + 3600, "active")];
}

export function roundOut(round: number, now: number, models: FixtureModel[]) {
  const status = roundStatus(round);
  const { closesAt, closedAt } = schedule(round, now);
  const proposals = proposalsOf(round, now, models);
  const standing = proposals[proposals.length - 1];
  return {
    round, status, closes_at: closesAt, seconds_left: status === "open" ? Math.max(0, closesAt - now) : 0,
    closed_at: closedAt, activates_at: standing?.activates_at ?? 0,
    root: standing?.root ?? `0x${"0".repeat(64)}`,
    lapses_at: status === "open" ? null : closedAt + 7 * DAY,
    proposals,
  };
}
