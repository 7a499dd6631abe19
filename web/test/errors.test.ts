// Reverts in words: decoded with the contract's ABI (here the errors as the Tournament and the token declare them).
import { BaseError, ContractFunctionRevertedError, encodeErrorResult, parseAbi, UserRejectedRequestError } from "viem";
import { describe, expect, it } from "vitest";
import { describeError, describeRevertData, humanize } from "../src/chain/errors";
import { errorAbi } from "../src/chain/session";

const TOURNAMENT = parseAbi([
  "error WithdrawalExceedsStake(uint256 modelId, uint256 requested, uint256 available)",
  "error UnsettledRounds(uint256 modelId, uint32 settledRound, uint32 requiredRound)",
  "error NotModelOwner(uint256 modelId, address caller)",
  "error TopUpPending(uint256 modelId, uint32 settleThrough, uint256 pendingAmount)",
  "error ZeroAmount()",
  "function withdraw(uint256 modelId)",
]);
const TOKEN = parseAbi([
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ZeroAmount()",
]);
const ABI = [...TOURNAMENT, ...errorAbi(TOKEN)];
const UNITS = { decimals: 18, symbol: "STK" };
const token = (n: bigint) => n * 10n ** 18n;

describe("describeRevertData", () => {
  it("phrases the tournament's custom errors with amounts in tokens", () => {
    const data = encodeErrorResult({ abi: TOURNAMENT, errorName: "WithdrawalExceedsStake",
      args: [3n, token(1000n), token(250n)] });
    expect(describeRevertData(data, ABI, UNITS)).toBe(
      "Model 3 has 250 STK of settled stake: a pending withdrawal of 1,000 STK in total is more than that.");
    const unsettled = encodeErrorResult({ abi: TOURNAMENT, errorName: "UnsettledRounds", args: [5n, 2, 4] });
    expect(describeRevertData(unsettled, ABI, UNITS)).toMatch(/settle the model through round 4 first/);
  });

  it("decodes the token's errors raised inside a tournament call", () => {
    const data = encodeErrorResult({ abi: TOKEN, errorName: "ERC20InsufficientBalance",
      args: ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", token(5n), token(7n)] });
    expect(describeRevertData(data, ABI, UNITS)).toBe("Your token balance is 5 STK, less than the 7 STK needed.");
  });

  it("names an error it has no sentence for, with its arguments, still without hex", () => {
    const data = encodeErrorResult({ abi: TOURNAMENT, errorName: "TopUpPending", args: [9n, 6, token(3n)] });
    expect(describeRevertData(data, ABI, UNITS)).toBe(
      "The contract refused: Top up pending (modelId 9, settleThrough 6, pendingAmount 3 STK).");
  });

  it("returns null for data no ABI error matches", () => {
    expect(describeRevertData("0xdeadbeef", ABI, UNITS)).toBeNull();
  });
});

describe("describeError", () => {
  it("explains a simulated revert (viem's ContractFunctionRevertedError)", () => {
    const data = encodeErrorResult({ abi: TOURNAMENT, errorName: "NotModelOwner",
      args: [4n, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"] });
    const err = new BaseError("call failed", {
      cause: new ContractFunctionRevertedError({ abi: ABI, data, functionName: "withdraw" }) });
    expect(describeError(err, ABI, UNITS)).toBe(
      "Model 4 belongs to another address: 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC cannot act on it.");
  });

  it("finds revert data nested in a wallet's JSON-RPC error", () => {
    const data = encodeErrorResult({ abi: TOURNAMENT, errorName: "ZeroAmount" });
    const rpcError = Object.assign(new Error("execution reverted"), { code: 3, data });
    expect(describeError(rpcError, ABI, UNITS)).toBe("The amount must be more than zero.");
  });

  it("says when the person declined in the wallet", () => {
    const err = new UserRejectedRequestError(new Error("User rejected the request."));
    expect(describeError(err, ABI, UNITS)).toBe("You declined the request in your wallet; nothing was sent.");
    expect(describeError(Object.assign(new Error("x"), { code: 4001 }), ABI, UNITS)).toMatch(/declined/);
  });

  it("humanizes error names", () => {
    expect(humanize("WithdrawalExceedsStake")).toBe("Withdrawal exceeds stake");
    expect(humanize("ERC20InsufficientBalance")).toBe("Erc20 insufficient balance");
  });
});

describe("errorAbi", () => {
  it("unions errors across ABIs once each, and nothing else", () => {
    const merged = errorAbi(TOURNAMENT, TOKEN);
    expect(merged.every((item) => item.type === "error")).toBe(true);
    expect(merged.filter((item) => item.type === "error" && item.name === "ZeroAmount")).toHaveLength(1);
    expect(merged).toHaveLength(6);
  });
});
