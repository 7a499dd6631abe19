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
//   {"op": "bench", "values", "encoding", "sortLeaves", "proofSample"}
//       -> {root, buildSeconds, proofSample, proofSampleSeconds}
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
      // Timed build of the given values (unsorted, as the settlement tree), then getProof on the
      // first `proofSample` leaves (the JS library re-verifies each proof, so all 100k would take minutes).
      const t0 = process.hrtime.bigint();
      const tree = StandardMerkleTree.of(job.values, job.encoding, { sortLeaves: job.sortLeaves ?? false });
      const t1 = process.hrtime.bigint();
      const sample = Math.min(job.proofSample ?? 0, job.values.length);
      for (let i = 0; i < sample; i++) tree.getProof(i);
      const t2 = process.hrtime.bigint();
      return {
        root: tree.root,
        buildSeconds: Number(t1 - t0) / 1e9,
        proofSample: sample,
        proofSampleSeconds: Number(t2 - t1) / 1e9,
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
