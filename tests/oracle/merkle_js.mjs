// Runs the real @openzeppelin/merkle-tree package for the Python tests and benchmark.
// Usage: node tests/oracle/merkle_js.mjs < jobs.json > results.json
// Input: a JSON array of jobs; output: a JSON array of results, one per job, in order.
// A job that throws yields {"error": "<message>"} so tests can compare rejections.
//   {"op": "of", "values": [...], "encoding": [...], "sortLeaves": bool,
//    "proofs": bool, "proveIndices": [i, ...], "multiproofs": [[i, ...], ...], "proveValues": [value, ...],
//    "multiproofValues": [[value, ...], ...], "leafHashes": bool, "dump": bool}
//       -> {root, proofs?, multiproofs?, valueProofs?, valueMultiproofs?, leafHashes?, dump?}
//   {"op": "load", "dump": {...}, "proveIndices"?: [...], "multiproofs": [...]}
//       -> {root, proofs (of proveIndices, default all), multiproofs, entries}
//   {"op": "verify", "root", "encoding", "value", "proof"} -> {ok}
//   {"op": "verifyMulti", "root", "encoding", "multiproof"} -> {ok}
//   {"op": "bench", "n": N} -> {root, buildSeconds, proofsSeconds}  (settlement-shaped leaves)
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { readFileSync } from 'node:fs';

function run(job) {
  switch (job.op) {
    case 'of': {
      const tree = StandardMerkleTree.of(job.values, job.encoding, { sortLeaves: job.sortLeaves ?? true });
      const out = { root: tree.root };
      if (job.proofs) out.proofs = job.values.map((_, i) => tree.getProof(i));
      if (job.multiproofs) out.multiproofs = job.multiproofs.map(ix => tree.getMultiProof(ix));
      if (job.proveIndices) out.indexProofs = job.proveIndices.map(i => tree.getProof(i));
      if (job.proveValues) out.valueProofs = job.proveValues.map(v => tree.getProof(v));
      if (job.multiproofValues) out.valueMultiproofs = job.multiproofValues.map(vs => tree.getMultiProof(vs));
      if (job.leafHashes) out.leafHashes = job.values.map(v => tree.leafHash(v));
      if (job.dump) out.dump = tree.dump();
      return out;
    }
    case 'load': {
      const tree = StandardMerkleTree.load(job.dump);
      const indices = job.proveIndices ?? Array.from(tree.entries()).map(([i]) => i);
      const proofs = indices.map(i => tree.getProof(i));
      return {
        root: tree.root,
        proofs,
        multiproofs: (job.multiproofs ?? []).map(ix => tree.getMultiProof(ix)),
        entries: Array.from(tree.entries()).map(([i, v]) => [i, v]),
      };
    }
    case 'verify':
      return { ok: StandardMerkleTree.verify(job.root, job.encoding, job.value, job.proof) };
    case 'verifyMulti':
      return { ok: StandardMerkleTree.verifyMultiProof(job.root, job.encoding, job.multiproof) };
    case 'bench': {
      const values = [];
      for (let i = 0; i < job.n; i++) {
        values.push([String(i + 1), String(BigInt(i) * 1000000007n), String(BigInt(i) * 999983n)]);
      }
      const t0 = process.hrtime.bigint();
      const tree = StandardMerkleTree.of(values, ['uint256', 'uint256', 'uint256'], { sortLeaves: false });
      const t1 = process.hrtime.bigint();
      let nodes = 0;
      if (job.proofs) for (let i = 0; i < job.n; i++) nodes += tree.getProof(i).length;
      const t2 = process.hrtime.bigint();
      return {
        root: tree.root,
        buildSeconds: Number(t1 - t0) / 1e9,
        proofsSeconds: job.proofs ? Number(t2 - t1) / 1e9 : null,
        proofNodes: nodes,
      };
    }
    default:
      throw new Error(`unknown op ${job.op}`);
  }
}

const jobs = JSON.parse(readFileSync(0, 'utf8'));
const results = jobs.map(job => {
  try {
    return run(job);
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
