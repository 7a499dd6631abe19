// The app's EIP-712 documents must hash exactly like the oracle's: these vectors were computed in Python with
// oracle/protocol/submission.py, oracle/protocol/receipt.py and oracle/participant/actions.py (permit_signature).
import { hashTypedData, recoverTypedDataAddress } from "viem";
import { describe, expect, it } from "vitest";
import type { Receipt } from "../src/app/api";
import { permitTypedData, predictionsHash, receiptProblem, receiptTypedData, submissionTypedData } from "../src/chain/typed";

const FILE = new TextEncoder().encode("id,prediction\na,0.5\nb,0.25\n");
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const RECEIPT: Receipt = {
  chain_id: 31337, tournament: CONTRACT, round: 3, model_id: 7,
  predictions_hash: "0x6ee3af21abad781eb6ac2ccbd7eae143b4b650bdb60bf65753e2bcdb76fe9843", received_at: 1699999000,
  operator: OPERATOR,
  signature: "0xd8ecd7b019c7062abc98df13794677ed958910de46fcae715c9a8cd93be10c8761effbf480b61f7069ecf218b48b8a1f3e5b5606f87d5033a1cdd9f6da3e78d51c",
};

describe("EIP-712 documents", () => {
  it("hashes a prediction file like predictions_hash", () => {
    expect(predictionsHash(FILE)).toBe("0x6ee3af21abad781eb6ac2ccbd7eae143b4b650bdb60bf65753e2bcdb76fe9843");
  });

  it("digests a submission like submission_digest (and the contract's submissionDigest)", () => {
    const doc = submissionTypedData({ chainId: 31337, tournament: CONTRACT, round: 3, modelId: 7,
      predictionsHash: predictionsHash(FILE), deadline: 1700000000 });
    expect(hashTypedData(doc)).toBe("0x60ffa7f43d89c544a393f873d05bd6fe4c617f9c48ed7f26ad2be8420d9f6d57");
  });

  it("recovers the signer of a submission signed by the Python participant", async () => {
    const doc = submissionTypedData({ chainId: 31337, tournament: CONTRACT, round: 3, modelId: 7,
      predictionsHash: predictionsHash(FILE), deadline: 1700000000 });
    const signature = "0x87fa2d98694ed578bb82b85cb940a3e03fb0de22d2b379b2eeb1d13fbb92988742f08d0b4825b36e56d10b5dee9802becee268e675c567b47a217734271b5df41c";
    expect(await recoverTypedDataAddress({ ...doc, signature })).toBe("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  });

  it("digests a receipt like receipt_digest", () => {
    expect(hashTypedData(receiptTypedData(RECEIPT))).toBe(
      "0xf867c65a7400d81cadf6d3adfebd7d642f11377927063c55b850babc60fdbbbb");
  });

  it("digests a permit like permit_signature's document", () => {
    const doc = permitTypedData({ name: "Tournament Stake", version: "1", chainId: 31337, token: CONTRACT,
      owner: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", spender: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
      value: 250n * 10n ** 18n, nonce: 0n, deadline: 1700003600n });
    expect(hashTypedData(doc)).toBe("0x2139669f9a2be718f7ea25de39c15880c1d85f820e8b085bb6cda6464ff0cbe0");
  });
});

describe("receiptProblem", () => {
  const expected = { operator: OPERATOR, chainId: 31337, tournament: CONTRACT } as const;

  it("accepts the operator's receipt", async () => {
    expect(await receiptProblem(RECEIPT, expected)).toBeNull();
  });

  it("names the signer of a receipt altered after signing", async () => {
    const problem = await receiptProblem({ ...RECEIPT, received_at: RECEIPT.received_at + 1 }, expected);
    expect(problem).toMatch(/^the receipt was signed by 0x[0-9a-fA-F]{40}, not by the operator 0xf39F/);
  });

  it("refuses a receipt for another chain or contract", async () => {
    expect(await receiptProblem({ ...RECEIPT, chain_id: 1 }, expected)).toBe("the receipt is for chain 1, not 31337");
    expect(await receiptProblem(RECEIPT, { ...expected, tournament: OPERATOR })).toMatch(/not this tournament/);
  });
});
