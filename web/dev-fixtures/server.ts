/** The fixture service: answers every endpoint of web/API.md from the deterministic scenario, for `vite` and
 * `vite preview` (a Connect middleware; never part of the built app).
 *
 * Two modes:
 * - fixtures only (default): everything from scenario.ts; submissions are checked (EIP-712 signature recovered,
 *   file hash, owner) and receipted with the fixture operator key, like the real service does.
 * - live chain (FIXTURE_CHAIN=path to the JSON written by scripts/dev-chain.mjs): chain id, contracts, ABIs, the
 *   chain clock, rounds, the connected owner's models, proofs and owners come from that Anvil chain, so the Wallet
 *   page's transactions really run. The leaderboard and model histories stay fixtures.
 *
 * FIXTURE_MODELS sets the number of fixture models (default 10,000). */

import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  createPublicClient, getAddress, http, keccak256, recoverTypedDataAddress, type Abi, type Hex, type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { receiptTypedData, submissionTypedData } from "../src/chain/typed.ts";
import {
  buildModels, CHAIN_ID, cumulative, fakeHash, LAST_ACTIVE, leaderboardRow, LIVE_IDS, OPERATOR, OPERATOR_KEY,
  roundOut, ROUNDS, roundStatus, ROLLING_WINDOW, LATEST_SCORED, schedule, stakeOf, TOKEN, TOURNAMENT,
  type FixtureModel,
} from "./scenario.ts";

type Next = (err?: unknown) => void;

interface LiveChain {
  rpc: string;
  chain_id: number;
  token: Hex;
  tournament: Hex;
  deployment_block: number;
  token_abi: Abi;
  tournament_abi: Abi;
  trees: Record<string, { dump: unknown; status: string }>;
}

const STATUS_NAMES = ["none", "open", "closed", "proposed", "vetoed", "active", "lapsed"];

class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: object = {}) {
    super(message);
  }
}

export function fixtureService() {
  const started = Math.floor(Date.now() / 1000);
  const models: FixtureModel[] = buildModels(Number(process.env.FIXTURE_MODELS ?? 10_000));
  const byId = new Map(models.map((m) => [m.id, m]));
  const live: LiveChain | null = process.env.FIXTURE_CHAIN
    ? JSON.parse(readFileSync(process.env.FIXTURE_CHAIN, "utf8")) as LiveChain : null;
  const chain: PublicClient | null = live ? createPublicClient({ transport: http(live.rpc) }) as PublicClient : null;
  const operator = privateKeyToAccount(OPERATOR_KEY);
  const inbox = new Map<string, object>(); // "round:model" -> receipt
  let leaderboardJson: string | null = null;

  const chainId = live?.chain_id ?? CHAIN_ID;
  const tournament = getAddress(live?.tournament ?? TOURNAMENT);
  const token = { ...TOKEN, address: getAddress(live?.token ?? TOKEN.address) };

  async function clockNow(): Promise<{ block: number; chain_time: number }> {
    if (!chain) return { block: 1000 + (Math.floor(Date.now() / 1000) - started) / 2 | 0, chain_time: Math.floor(Date.now() / 1000) };
    const block = await chain.getBlock({ blockTag: "latest" });
    return { block: Number(block.number), chain_time: Number(block.timestamp) };
  }

  async function read<T>(functionName: string, args: unknown[] = []): Promise<T> {
    return (await chain!.readContract({ address: live!.tournament, abi: live!.tournament_abi, functionName, args })) as T;
  }

  async function liveModel(id: number) {
    const count = await read<bigint>("modelCount");
    if (BigInt(id) > count) return null;
    const [model, settlement, withdrawal] = await read<[{ owner: Hex }, { payout: bigint; burn: bigint; round: number; firstRound: number },
      { amount: bigint; afterRound: number }]>("modelInfo", [BigInt(id)]);
    const stake = await read<bigint>("stakeOf", [BigInt(id)]);
    return { owner: getAddress(model.owner), settlement, withdrawal, stake };
  }

  async function liveRounds(now: number) {
    const [lastClosed] = await read<[number, number]>("roundCursor");
    const out = [];
    for (let r = lastClosed + 1; r >= 1; r--) {
      const [info, root] = await read<[{ status: number; closesAt: number; closedAt: number; activatesAt: number }, Hex]>(
        "roundInfo", [r]);
      const status = STATUS_NAMES[info.status] ?? String(info.status);
      if (status === "none") continue;
      out.push({ round: r, status, closes_at: Number(info.closesAt),
        seconds_left: status === "open" ? Math.max(0, Number(info.closesAt) - now) : 0,
        closed_at: Number(info.closedAt), activates_at: Number(info.activatesAt), root, lapses_at: null, proposals: [] });
    }
    return out;
  }

  async function ownerOfModel(id: number): Promise<Hex | null> {
    if (live) return (await liveModel(id))?.owner ?? null;
    return byId.get(id)?.owner ?? null;
  }

  function receiptFor(round: number, modelId: number, hash: Hex, receivedAt: number) {
    return { chain_id: chainId, tournament, round, model_id: modelId, predictions_hash: hash, received_at: receivedAt,
      operator: OPERATOR };
  }

  async function signed(r: ReturnType<typeof receiptFor>) {
    const signature = await operator.signTypedData(receiptTypedData({ ...r, signature: "0x" }));
    return { ...r, signature };
  }

  /** The round's file rules, as the service states them (oracle/scoring/validation.py's rule names). */
  function problemsOf(text: string, model: string): { rows: number | null; problems: string[] } {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
    const who = `model ${model}`;
    if (!lines.length) return { rows: 0, problems: ["table: [empty] the file has no rows"] };
    const header = lines[0]!.split(",").map((c) => c.trim());
    if (!header.includes("id")) return { rows: null, problems: [`${who}: [missing_id_column] file has no 'id' column`] };
    const values = header.filter((c) => c !== "id");
    if (values.length !== 1) {
      return { rows: null, problems: [`${who}: [non_numeric] file must have exactly one prediction column, has ${JSON.stringify(values.slice(0, 5))}`] };
    }
    const idCol = header.indexOf("id");
    const valueCol = header.indexOf(values[0]!);
    const seen = new Set<string>();
    const dup: string[] = [], unknown: string[] = [], bad: string[] = [], out: string[] = [];
    const liveSet = new Set(LIVE_IDS);
    for (const line of lines.slice(1)) {
      const cells = line.split(",");
      const id = (cells[idCol] ?? "").trim();
      const raw = (cells[valueCol] ?? "").trim();
      if (seen.has(id)) dup.push(id);
      seen.add(id);
      if (!liveSet.has(id)) unknown.push(id);
      const v = Number(raw);
      if (raw === "" || Number.isNaN(v)) bad.push(id);
      else if (v < 0 || v > 1) out.push(id);
    }
    const ids = (xs: string[]) => ` (ids: ${xs.slice(0, 5).join(", ")})`;
    const problems: string[] = [];
    if (dup.length) problems.push(`${who}: [duplicate_ids] file repeats ids${ids(dup)}`);
    if (unknown.length) problems.push(`table: [unknown_ids] ${unknown.length} row(s) with ids not live this round were ignored${ids(unknown)}`);
    if (bad.length) problems.push(`${who}: [non_numeric] ${bad.length} cell(s) are not numbers${ids(bad)}`);
    if (out.length) problems.push(`${who}: [out_of_range] ${out.length} value(s) outside [0, 1]${ids(out)}`);
    const missing = LIVE_IDS.filter((id) => !seen.has(id));
    if (missing.length) {
      const share = (1 - missing.length / LIVE_IDS.length) * 100;
      problems.push(`${who}: [missing_ids] predicts ${share.toFixed(4)}% of ${LIVE_IDS.length} live ids (0 NaN, `
        + `${missing.length} absent); at least 100.0000% required${ids(missing)}`);
    }
    return { rows: lines.length - 1, problems };
  }

  async function openRound(round: number): Promise<{ closesAt: number }> {
    const now = (await clockNow()).chain_time;
    if (live) {
      const found = (await liveRounds(now)).find((r) => r.round === round);
      if (!found) throw new ApiFailure(404, "unknown_round", `round ${round} has not been opened`);
      if (found.status !== "open") throw new ApiFailure(409, "round_not_open", `round ${round} is ${found.status}, not open`);
      return { closesAt: found.closes_at };
    }
    if (round < 1 || round > ROUNDS) throw new ApiFailure(404, "unknown_round", `round ${round} has not been opened`);
    if (roundStatus(round) !== "open") throw new ApiFailure(409, "round_not_open", `round ${round} is ${roundStatus(round)}, not open`);
    return { closesAt: schedule(round, started).closesAt };
  }

  function decodeFile(body: { file?: unknown }): Buffer {
    if (typeof body.file !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.file)) {
      throw new ApiFailure(400, "malformed_file", "the 'file' field is not valid base64");
    }
    return Buffer.from(body.file, "base64");
  }

  const routes: Array<[string, RegExp, (m: RegExpMatchArray, url: URL, body: any) => Promise<unknown>]> = [
    ["GET", /^\/info$/, async () => ({
      chain_id: chainId, tournament, operator: OPERATOR,
      receipt_domain: { name: "Tournament Receipt", version: "1", chainId, verifyingContract: tournament },
      max_body_bytes: 16 * 2 ** 20, max_file_bytes: 8 * 2 ** 20, rate_limit: { burst: 60, per_second: 1 }, token,
    })],
    ["GET", /^\/health$/, async () => ({ status: "ok", chain_id: chainId, ...(await clockNow()), scheduler: "off",
      scheduler_last_error: null })],
    ["GET", /^\/contract$/, async () => {
      if (!live) throw new ApiFailure(404, "not_found", "the fixture service has no chain: start it with FIXTURE_CHAIN (see web/README.md)");
      return { chain_id: chainId, tournament: { address: tournament, deployment_block: live.deployment_block,
        abi: live.tournament_abi }, token: { address: token.address, abi: live.token_abi } };
    }],
    ["GET", /^\/rounds$/, async (_m, url) => {
      const { block, chain_time } = await clockNow();
      const limit = Math.max(1, Math.min(64, Number(url.searchParams.get("limit") ?? 6)));
      const recent = live ? await liveRounds(chain_time)
        : Array.from({ length: ROUNDS }, (_, i) => roundOut(ROUNDS - i, started, models));
      const shown = recent.slice(0, limit);
      return { chain_time, block, open: shown.filter((r) => r.status === "open"), recent: shown };
    }],
    ["GET", /^\/leaderboard$/, async (_m, url) => {
      const owner = url.searchParams.get("owner");
      const { block, chain_time } = await clockNow();
      const head = { chain_time, block, latest_round: LATEST_SCORED, rolling_window: ROLLING_WINDOW,
        cumulative_through: LAST_ACTIVE };
      if (owner && live) {
        const count = Number(await read<bigint>("modelCount"));
        const rows = [];
        for (let id = 1; id <= count; id++) {
          const m = (await liveModel(id))!;
          if (m.owner.toLowerCase() !== owner.toLowerCase()) continue;
          rows.push({ model_id: id, owner: m.owner, stake: m.stake.toString(), pending_withdrawal: m.withdrawal.amount.toString(),
            corr: null, mmc: null, scored_round: null, corr_rolling: null, mmc_rolling: null, rounds_scored: 0,
            cumulative_payout: m.settlement.payout.toString(), cumulative_burn: m.settlement.burn.toString() });
        }
        return { ...head, models: rows };
      }
      if (owner) return { ...head, models: models.filter((m) => m.owner.toLowerCase() === owner.toLowerCase()).map(leaderboardRow) };
      leaderboardJson ??= JSON.stringify(models.map(leaderboardRow));
      return { raw: `{${JSON.stringify(head).slice(1, -1)},"models":${leaderboardJson}}` };
    }],
    ["GET", /^\/models\/(\d+)$/, async (m) => {
      const id = Number(m[1]);
      // Live mode: models registered on the chain come from it; higher ids fall back to the fixtures.
      const lm = live ? await liveModel(id) : null;
      if (lm) {
        const receipts = [...inbox.entries()].filter(([k]) => k.endsWith(`:${id}`)).map(([, r]) => r as { round: number; predictions_hash: Hex; received_at: number });
        return { model_id: id, owner: lm.owner, stake: lm.stake.toString(), first_round: lm.settlement.firstRound,
          settled_through: lm.settlement.round, settled_payout: lm.settlement.payout.toString(),
          settled_burn: lm.settlement.burn.toString(),
          withdrawal: lm.withdrawal.amount > 0n ? { amount: lm.withdrawal.amount.toString(), after_round: lm.withdrawal.afterRound,
            requested_at: null, available_at_latest: null, withdrawable: lm.settlement.round >= lm.withdrawal.afterRound } : null,
          rounds: receipts.map((r) => ({ round: r.round, submitted: true, predictions_hash: r.predictions_hash,
            received_at: r.received_at, stake_at_risk: null, payout: null, burn: null, corr: null, mmc: null,
            status: "open", cumulative_payout: null, cumulative_burn: null, receipt: r })) };
      }
      const model = byId.get(id);
      if (!model) throw new ApiFailure(404, "unknown_model", `model ${id} is not registered on the tournament`);
      const rounds = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const res = model.results.find((x) => x.round === round);
        const submitted = !!res || (round >= 11 && id % 3 !== 0);
        if (!submitted) continue;
        const hash = fakeHash(`predictions-${id}-${round}`);
        const receivedAt = schedule(round, started).closesAt - 3600 - (id % 600);
        const c = cumulative(model, round);
        rounds.push({ round, submitted, predictions_hash: hash, received_at: receivedAt,
          stake_at_risk: res?.stakeAtRisk.toString() ?? null, payout: res?.payout.toString() ?? null,
          burn: res?.burn.toString() ?? null, corr: res?.corr ?? null, mmc: res?.mmc ?? null, status: roundStatus(round),
          cumulative_payout: res ? c.payout.toString() : null, cumulative_burn: res ? c.burn.toString() : null,
          receipt: await signed(receiptFor(round, id, hash, receivedAt)) });
      }
      const c = cumulative(model, LAST_ACTIVE);
      const w = model.withdrawal;
      const requestedAt = started - (w?.requestedAgo ?? 0);
      return { model_id: id, owner: model.owner, stake: stakeOf(model).toString(), first_round: model.results[0]?.round ?? 1,
        settled_through: LAST_ACTIVE, settled_payout: c.payout.toString(), settled_burn: c.burn.toString(),
        withdrawal: w ? { amount: w.amount.toString(), after_round: w.afterRound, requested_at: requestedAt,
          available_at_latest: requestedAt + 14 * 86_400, withdrawable: w.withdrawable } : null, rounds };
    }],
    ["GET", /^\/rounds\/(\d+)\/models\/(\d+)\/proof$/, async (m) => {
      const round = Number(m[1]);
      const id = Number(m[2]);
      const tree = live?.trees[String(round)];
      if (!tree) throw new ApiFailure(404, "no_proposal", `round ${round} has no proposed root, so there are no published results`);
      const loaded = StandardMerkleTree.load(tree.dump as never) as StandardMerkleTree<[bigint, bigint, bigint]>;
      for (const [i, leaf] of loaded.entries()) {
        if (BigInt(leaf[0]) === BigInt(id)) {
          return { round, model_id: id, cumulative_payout: String(leaf[1]), cumulative_burn: String(leaf[2]),
            proof: loaded.getProof(i), root: loaded.root, status: tree.status };
        }
      }
      throw new ApiFailure(404, "not_in_tree", `model ${id} has no leaf in round ${round}'s tree (registered after the round closed?)`);
    }],
    ["POST", /^\/rounds\/(\d+)\/validate$/, async (m, _url, body) => {
      const round = Number(m[1]);
      await openRound(round);
      const data = decodeFile(body);
      const { rows, problems } = problemsOf(data.toString("utf8"), String(body.model_id ?? "?"));
      return { round, ok: problems.length === 0, rows, live_ids: LIVE_IDS.length,
        predictions_hash: keccak256(new Uint8Array(data)), problems: problems.slice(0, 50) };
    }],
    ["POST", /^\/rounds\/(\d+)\/submissions$/, async (m, _url, body) => {
      const round = Number(m[1]);
      const sub = body?.submission ?? {};
      const data = decodeFile(body);
      if (sub.round !== round) throw new ApiFailure(400, "wrong_round", `the submission is signed for round ${sub.round} but was posted to round ${round}; sign it for round ${round}`);
      if (sub.chain_id !== chainId) throw new ApiFailure(400, "wrong_chain", `the submission is signed for chain ${sub.chain_id}; this tournament is on chain ${chainId}`);
      let signer: Hex;
      try {
        signer = await recoverTypedDataAddress({ ...submissionTypedData({ chainId: sub.chain_id, tournament: sub.tournament,
          round: sub.round, modelId: sub.model_id, predictionsHash: sub.predictions_hash, deadline: sub.deadline }),
          signature: sub.signature });
      } catch {
        throw new ApiFailure(401, "bad_signature", "the signature cannot be read");
      }
      if (signer !== getAddress(sub.signer)) throw new ApiFailure(401, "bad_signature", `the signature over this submission was made by ${signer}, not by the claimed signer ${sub.signer}: re-sign exactly these fields`);
      const actual = keccak256(new Uint8Array(data));
      if (actual !== sub.predictions_hash) throw new ApiFailure(400, "hash_mismatch", `the file hashes to ${actual} but the signed predictions hash is ${sub.predictions_hash}: sign the file you send`);
      const owner = await ownerOfModel(sub.model_id);
      if (!owner) throw new ApiFailure(404, "unknown_model", `model ${sub.model_id} is not registered on the tournament`);
      if (owner !== signer) throw new ApiFailure(403, "not_owner", `model ${sub.model_id} is owned by ${owner}, not by the signer ${signer}`);
      const { closesAt } = await openRound(round);
      const { problems } = problemsOf(data.toString("utf8"), String(sub.model_id));
      if (problems.length) throw new ApiFailure(422, "invalid_predictions", `round ${round} model ${sub.model_id}: the predictions break the round's validation rules`, { problems });
      const now = (await clockNow()).chain_time;
      if (now >= closesAt) throw new ApiFailure(409, "late", `round ${round} closed for submissions at ${closesAt}; the chain's clock is ${now}`);
      const key = `${round}:${sub.model_id}`;
      const previous = inbox.get(key) as { predictions_hash: Hex; signature: Hex; sub_signature?: Hex } | undefined;
      if (previous?.sub_signature === sub.signature) {
        const { sub_signature: _, ...receipt } = previous as Record<string, unknown>;
        throw new ApiFailure(409, "duplicate", `this exact signed submission of round ${round} model ${sub.model_id} was already received; its receipt is attached`, { receipt });
      }
      const receipt = await signed(receiptFor(round, sub.model_id, actual, now));
      inbox.set(key, { ...receipt, sub_signature: sub.signature });
      return { status: 201, body: receipt };
    }],
    ["GET", /^\/bundles\/(0x[0-9a-f]{64})\/manifest\.json$/, async (m) => ({ raw: JSON.stringify({
      schema: "fixture", note: "A fixture manifest: the real service serves the round's canonical manifest here.",
      manifest_hash: m[1] }, null, 2) })],
  ];

  return async function middleware(req: IncomingMessage, res: ServerResponse, next: Next): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fixture");
    const route = routes.find(([method, pattern]) => method === req.method && pattern.test(url.pathname));
    const known = /^\/(info|health|contract|rounds|leaderboard|models|bundles)(\/|$)/.test(url.pathname);
    if (!route && !known) return next();
    const send = (status: number, body: string) => {
      res.statusCode = status;
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", "no-store");
      res.end(body);
    };
    try {
      if (!route) {
        throw new ApiFailure(404, "not_found", `${req.method} ${url.pathname}: the fixture service has no such file or endpoint`);
      }
      let body: unknown = null;
      if (req.method === "POST") {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          throw new ApiFailure(422, "invalid_request", "the request body is not JSON");
        }
      }
      const out = (await route[2](url.pathname.match(route[1])!, url, body)) as { raw?: string; status?: number; body?: unknown };
      if (out && typeof out === "object" && "raw" in out && typeof out.raw === "string") send(200, out.raw);
      else if (out && typeof out === "object" && "status" in out && typeof out.status === "number" && "body" in out) send(out.status, JSON.stringify(out.body));
      else send(200, JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
    } catch (err) {
      if (err instanceof ApiFailure) {
        send(err.status, JSON.stringify({ error: { code: err.code, message: err.message, ...err.extra } }));
      } else {
        send(503, JSON.stringify({ error: { code: "fixture_failed", message: `the fixture service failed: ${(err as Error).message}` } }));
      }
    }
  };
}
