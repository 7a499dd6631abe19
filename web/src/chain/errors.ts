/** Chain and wallet failures in words. A revert is decoded with the contract's ABI (read at run time) and its
 * custom error is phrased for people; an error this app has no sentence for is still named with its arguments,
 * never shown as a hex blob. */

import {
  BaseError, ContractFunctionRevertedError, decodeErrorResult, UserRejectedRequestError, type Abi, type Hex,
} from "viem";
import { formatTime, formatUnits } from "../app/format";

export interface Units {
  decimals: number;
  symbol: string;
}

type AbiError = Extract<Abi[number], { type: "error" }>;
type Args = Record<string, unknown>;
type Phrase = (a: Args, amount: (v: unknown) => string) => string;

const PHRASES: Record<string, Phrase> = {
  UnknownModel: (a) => `Model ${a.modelId} is not registered on this tournament.`,
  NotModelOwner: (a) => `Model ${a.modelId} belongs to another address: ${a.caller} cannot act on it.`,
  ZeroAmount: () => "The amount must be more than zero.",
  WithdrawalExceedsStake: (a, f) => `Model ${a.modelId} has ${f(a.available)} of settled stake: a pending withdrawal `
    + `of ${f(a.requested)} in total is more than that.`,
  NoPendingWithdrawal: (a) => `Model ${a.modelId} has no pending withdrawal: request one first.`,
  UnsettledRounds: (a) => `Model ${a.modelId} is settled through round ${a.settledRound}, but this withdrawal waits `
    + `for round ${a.requiredRound}: settle the model through round ${a.requiredRound} first.`,
  RootNotActive: (a) => `Round ${a.round} has no active root yet: settle against an active round.`,
  StaleRound: (a) => `Round ${a.round} is too old to settle against (the oldest that still settles is round `
    + `${a.oldestSettleable}): use the newest active round.`,
  InvalidProof: () => "The Merkle proof does not match the round's root, so the contract refused it.",
  EmptyBatch: () => "A batch settlement needs at least one model.",
  AlreadySettled: (a) => `Model ${a.modelId} is already settled through round ${a.settledRound}: there is nothing `
    + "to apply.",
  ModelCumulativeDecreased: (a) => `The round's leaf for model ${a.modelId} is below what was already applied to it.`,
  BurnExceedsStake: (a, f) => `Settling model ${a.modelId} needs the reserve to cover a burn shortfall of `
    + `${f(a.shortfall)}, but it has ${f(a.reserveAvailable)}: settlement waits until the reserve is funded.`,
  SettlementExceedsActiveTotals: () => "Settling would apply more than the activated rounds moved, so the contract "
    + "refused it.",
  EnforcedPause: () => "The tournament is paused: staking and withdrawals are stopped for now.",
  ERC20InsufficientBalance: (a, f) => `Your token balance is ${f(a.balance)}, less than the ${f(a.needed)} needed.`,
  ERC20InsufficientAllowance: (a, f) => `The tournament may take ${f(a.allowance)} of your tokens but needs `
    + `${f(a.needed)}: the permit was not applied (expired or already used). Sign a new one.`,
  ERC2612ExpiredSignature: (a) => `The permit expired at ${formatTime(Number(a.deadline))}: sign a new one.`,
  ERC2612InvalidSigner: (a) => `The permit was signed by ${a.signer}, not by the token owner ${a.owner}.`,
  ReentrancyGuardReentrantCall: () => "The contract refused a re-entering call.",
  AccessControlUnauthorizedAccount: (a) => `${a.account} does not hold the role this action needs.`,
};

const AMOUNT_NAME = /amount|stake|balance|needed|requested|available|allowance|shortfall|payout|burn|value|reserve/i;

/** "WithdrawalExceedsStake" -> "Withdrawal exceeds stake". */
export function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A decoded custom error as a sentence. */
export function phrase(errorName: string, item: AbiError | undefined, args: readonly unknown[] | undefined,
  units: Units): string {
  const named: Args = {};
  const inputs = item?.inputs ?? [];
  (args ?? []).forEach((value, i) => (named[inputs[i]?.name || `arg${i}`] = value));
  const amount = (v: unknown) =>
    typeof v === "bigint" ? `${formatUnits(v, units.decimals, 4)} ${units.symbol}` : String(v);
  const known = PHRASES[errorName];
  if (known) return known(named, amount);
  const shown = inputs.map((input, i) => {
    const value = args?.[i];
    const text = typeof value === "bigint" && AMOUNT_NAME.test(input.name ?? "") ? amount(value) : String(value);
    return `${input.name || `argument ${i + 1}`} ${text}`;
  });
  return `The contract refused: ${humanize(errorName)}${shown.length ? ` (${shown.join(", ")})` : ""}.`;
}

/** Decodes raw revert data with `abi`'s errors (and Solidity's Error/Panic); null when it matches none. */
export function describeRevertData(data: Hex, abi: Abi, units: Units): string | null {
  try {
    const decoded = decodeErrorResult({ abi, data });
    if (decoded.errorName === "Error") return `The contract refused: ${String(decoded.args?.[0])}.`;
    if (decoded.errorName === "Panic") return `The contract failed with a panic (code ${String(decoded.args?.[0])}).`;
    return phrase(decoded.errorName, decoded.abiItem as AbiError, decoded.args, units);
  } catch {
    return null;
  }
}

function findData(err: unknown): Hex | null {
  let current: unknown = err;
  for (let depth = 0; current && depth < 8; depth++) {
    const data = (current as { data?: unknown }).data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data)) return data as Hex;
    if (data && typeof data === "object" && typeof (data as { data?: unknown }).data === "string") {
      const inner = (data as { data: string }).data;
      if (/^0x[0-9a-fA-F]{8,}$/.test(inner)) return inner as Hex;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** Any failure of a wallet request, a simulation or a transaction, in words. */
export function describeError(err: unknown, abi: Abi, units: Units): string {
  if (err instanceof BaseError) {
    const rejected = err.walk((e) => e instanceof UserRejectedRequestError);
    if (rejected) return "You declined the request in your wallet; nothing was sent.";
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as
      ContractFunctionRevertedError | null;
    if (reverted) {
      if (reverted.data?.errorName) {
        const { errorName, abiItem, args } = reverted.data;
        if (errorName === "Error") return `The contract refused: ${String(args?.[0])}.`;
        return phrase(errorName, abiItem as AbiError, args, units);
      }
      if (reverted.reason) return `The contract refused: ${reverted.reason}.`;
      const raw = reverted.raw ?? findData(err);
      const decoded = raw ? describeRevertData(raw, abi, units) : null;
      if (decoded) return decoded;
      if (reverted.signature) {
        return `The contract refused with an error this app does not know (selector ${reverted.signature}); `
          + "the service's ABI may be out of date.";
      }
      return "The contract refused the call without saying why.";
    }
    const raw = findData(err);
    const decoded = raw ? describeRevertData(raw, abi, units) : null;
    if (decoded) return decoded;
    return err.shortMessage || err.message.split("\n")[0]!;
  }
  const code = (err as { code?: unknown })?.code;
  if (code === 4001) return "You declined the request in your wallet; nothing was sent.";
  const raw = findData(err);
  const decoded = raw ? describeRevertData(raw, abi, units) : null;
  if (decoded) return decoded;
  return err instanceof Error ? err.message : String(err);
}
