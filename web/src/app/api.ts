/** The service's JSON API as the app reads it (web/API.md is the contract; these types mirror it). Calls use
 * relative URLs, so the app works wherever the service mounts it. */

export type Amount = string; // token smallest unit, decimal
export type Hex = `0x${string}`;

export interface TokenInfo {
  address: Hex;
  name: string;
  symbol: string;
  decimals: number;
}

export interface Info {
  chain_id: number;
  tournament: Hex;
  operator: Hex;
  receipt_domain: { name: string; version: string; chainId: number; verifyingContract: Hex };
  max_body_bytes: number;
  max_file_bytes: number;
  token: TokenInfo;
}

export interface Health {
  status: "ok";
  chain_id: number;
  block: number;
  chain_time: number;
  scheduler: string;
  scheduler_last_error: string | null;
}

export interface Difference {
  scope: string;
  subject: string;
  field: string;
  recorded: unknown;
  recomputed: unknown;
}

export interface Verdict {
  ok: boolean;
  checked_at: number;
  status: string;
  standing: boolean;
  models: string[];
  differences: Difference[];
  differences_count: number;
  notes: string[];
  warnings: string[];
}

export interface Proposal {
  seq: number;
  root: Hex;
  manifest_hash: Hex;
  manifest_uri: string;
  proposed_at: number;
  proposed_tx: Hex | null;
  activates_at: number;
  state: "pending" | "vetoed" | "active" | string;
  vetoed_at: number | null;
  vetoed_by: Hex | null;
  totals: Record<string, Amount>;
  files: Record<string, string>;
  verdict: Verdict | null;
}

export interface Round {
  round: number;
  status: string;
  closes_at: number;
  seconds_left: number;
  closed_at: number;
  activates_at: number;
  root: Hex;
  lapses_at?: number | null;
  proposals?: Proposal[];
}

export interface Rounds {
  chain_time: number;
  block: number;
  open: Round[];
  recent: Round[];
}

export interface LeaderboardRow {
  model_id: number;
  owner: Hex;
  stake: Amount;
  pending_withdrawal: Amount;
  corr: number | null;
  mmc: number | null;
  scored_round: number | null;
  corr_rolling: number | null;
  mmc_rolling: number | null;
  rounds_scored: number;
  cumulative_payout: Amount | null;
  cumulative_burn: Amount | null;
}

export interface Leaderboard {
  chain_time: number;
  block: number;
  latest_round: number | null;
  rolling_window: number;
  cumulative_through: number | null;
  models: LeaderboardRow[];
}

export interface Receipt {
  chain_id: number;
  tournament: Hex;
  round: number;
  model_id: number;
  predictions_hash: Hex;
  received_at: number;
  operator: Hex;
  signature: Hex;
}

export interface ModelRound {
  round: number;
  submitted: boolean;
  predictions_hash: Hex | null;
  received_at: number | null;
  stake_at_risk: Amount | null;
  payout: Amount | null;
  burn: Amount | null;
  corr: number | null;
  mmc: number | null;
  status?: string;
  cumulative_payout?: Amount | null;
  cumulative_burn?: Amount | null;
  receipt?: Receipt | null;
}

export interface Withdrawal {
  amount: Amount;
  after_round: number;
  requested_at: number | null;
  available_at_latest: number | null;
  withdrawable: boolean;
}

export interface Model {
  model_id: number;
  owner: Hex;
  stake: Amount;
  first_round?: number;
  settled_through?: number;
  settled_payout?: Amount;
  settled_burn?: Amount;
  withdrawal?: Withdrawal | null;
  rounds: ModelRound[];
}

export interface Proof {
  round: number;
  model_id: number;
  cumulative_payout: Amount;
  cumulative_burn: Amount;
  proof: Hex[];
  root: Hex;
  status: string;
}

export interface Validation {
  round: number;
  ok: boolean;
  rows: number | null;
  live_ids: number;
  predictions_hash: Hex;
  problems: string[];
}

export interface ContractInfo {
  chain_id: number;
  tournament: { address: Hex; deployment_block: number; abi: readonly unknown[] };
  token: { address: Hex; abi: readonly unknown[] };
}

export interface SubmissionRecord {
  chain_id: number;
  tournament: Hex;
  round: number;
  model_id: number;
  predictions_hash: Hex;
  deadline: number;
  signer: Hex;
  signature: Hex;
  file_name: string;
}

/** A refusal or failure of the service, in words. `problems` lists every rule a file breaks; `receipt` is the
 * original receipt of a duplicate submission. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly problems: string[] = [],
    readonly receipt: Receipt | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, ...init });
  } catch (err) {
    throw new ApiError(`The service did not answer (${(err as Error).message}). Check your connection and reload.`,
      0, "unreachable");
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = (body as { error?: Record<string, unknown> } | null)?.error;
    if (detail && typeof detail.message === "string") {
      throw new ApiError(detail.message, response.status, String(detail.code ?? "error"),
        Array.isArray(detail.problems) ? detail.problems.map(String) : [],
        (detail.receipt as Receipt | undefined) ?? null);
    }
    throw new ApiError(`The service answered ${path} with HTTP ${response.status} ${response.statusText}.`,
      response.status, "http_error");
  }
  if (body === null) {
    throw new ApiError(`The service answered ${path} with something that is not JSON.`, response.status, "not_json");
  }
  return body as T;
}

const post = <T>(path: string, body: unknown) =>
  request<T>(path, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body) });

let infoPromise: Promise<Info> | null = null;
let contractPromise: Promise<ContractInfo> | null = null;

export const api = {
  /** Fetched once per page load: the tournament and its token do not change under a running app. */
  info: () => (infoPromise ??= request<Info>("info").catch((err) => { infoPromise = null; throw err; })),
  contract: () =>
    (contractPromise ??= request<ContractInfo>("contract").catch((err) => { contractPromise = null; throw err; })),
  health: () => request<Health>("health"),
  rounds: (limit = 64) => request<Rounds>(`rounds?limit=${limit}`),
  leaderboard: (owner?: string) =>
    request<Leaderboard>(owner ? `leaderboard?owner=${encodeURIComponent(owner)}` : "leaderboard"),
  model: (id: number) => request<Model>(`models/${id}`),
  proof: (round: number, id: number) => request<Proof>(`rounds/${round}/models/${id}/proof`),
  validate: (round: number, file: string, fileName: string, modelId: number) =>
    post<Validation>(`rounds/${round}/validate`, { file, file_name: fileName, model_id: modelId }),
  submit: (round: number, submission: SubmissionRecord, file: string) =>
    post<Receipt>(`rounds/${round}/submissions`, { submission, file }),
};
