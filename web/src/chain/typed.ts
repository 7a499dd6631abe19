/** The EIP-712 documents the app signs or checks, identical to the oracle's (oracle/protocol/submission.py,
 * oracle/protocol/receipt.py, the token's EIP-2612 permit). Unit tests pin their digests to the Python ones. */

import { getAddress, keccak256, recoverTypedDataAddress, type Address, type Hex } from "viem";
import type { Receipt } from "../app/api";

export const SUBMISSION_TYPES = {
  Submission: [
    { name: "round", type: "uint256" },
    { name: "modelId", type: "uint256" },
    { name: "predictionsHash", type: "bytes32" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export const RECEIPT_TYPES = {
  Receipt: [
    { name: "round", type: "uint256" },
    { name: "modelId", type: "uint256" },
    { name: "predictionsHash", type: "bytes32" },
    { name: "receivedAt", type: "uint256" },
  ],
} as const;

export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** keccak-256 of the exact bytes of a prediction file: the signed `predictionsHash`. */
export function predictionsHash(bytes: Uint8Array): Hex {
  return keccak256(bytes);
}

export function submissionTypedData(args: {
  chainId: number; tournament: Address; round: number; modelId: number; predictionsHash: Hex; deadline: number;
}) {
  return {
    domain: { name: "Tournament", version: "1", chainId: args.chainId, verifyingContract: getAddress(args.tournament) },
    types: SUBMISSION_TYPES,
    primaryType: "Submission" as const,
    message: {
      round: BigInt(args.round), modelId: BigInt(args.modelId), predictionsHash: args.predictionsHash,
      deadline: BigInt(args.deadline),
    },
  };
}

export function receiptTypedData(r: Receipt) {
  return {
    domain: { name: "Tournament Receipt", version: "1", chainId: r.chain_id, verifyingContract: getAddress(r.tournament) },
    types: RECEIPT_TYPES,
    primaryType: "Receipt" as const,
    message: {
      round: BigInt(r.round), modelId: BigInt(r.model_id), predictionsHash: r.predictions_hash,
      receivedAt: BigInt(r.received_at),
    },
  };
}

export function permitTypedData(args: {
  name: string; version: string; chainId: number; token: Address; owner: Address; spender: Address; value: bigint;
  nonce: bigint; deadline: bigint;
}) {
  return {
    domain: { name: args.name, version: args.version, chainId: args.chainId, verifyingContract: getAddress(args.token) },
    types: PERMIT_TYPES,
    primaryType: "Permit" as const,
    message: { owner: getAddress(args.owner), spender: getAddress(args.spender), value: args.value,
      nonce: args.nonce, deadline: args.deadline },
  };
}

/** Why a receipt is not genuine, or null when it is: signed by `operator` for this chain and tournament. */
export async function receiptProblem(r: Receipt, expected: { operator: Address; chainId: number; tournament: Address }):
  Promise<string | null> {
  if (r.chain_id !== expected.chainId) return `the receipt is for chain ${r.chain_id}, not ${expected.chainId}`;
  if (getAddress(r.tournament) !== getAddress(expected.tournament)) {
    return `the receipt is for contract ${r.tournament}, not this tournament ${expected.tournament}`;
  }
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({ ...receiptTypedData(r), signature: r.signature });
  } catch (err) {
    return `the receipt's signature cannot be read (${(err as Error).message.split("\n")[0]})`;
  }
  if (signer !== getAddress(expected.operator)) {
    return `the receipt was signed by ${signer}, not by the operator ${getAddress(expected.operator)}`;
  }
  return null;
}
