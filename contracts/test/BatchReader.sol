// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BatchReader (local chains only)
/// @notice Many view calls in one `eth_call`, behind the ABI of Multicall3's `aggregate3`. Most public chains have
/// Multicall3 at its canonical address, and the oracle batches its reads through whatever answers there; a local
/// Anvil has nothing there, so the benchmark and the tests put this contract's code at that address. Read-only:
/// every call is a `staticcall`.
contract BatchReader {
    /// @notice One call: the contract, whether its failure is tolerated, and the calldata.
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// @notice One call's outcome, in the order of the calls.
    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Call `index` failed and did not allow failure.
    error CallFailed(uint256 index);

    /// @notice Make every call (a `staticcall` each) and return their results in order.
    /// @param calls The calls.
    /// @return results Success and return data of each call.
    function aggregate3(Call3[] calldata calls) external view returns (Result[] memory results) {
        results = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool success, bytes memory data) = calls[i].target.staticcall(calls[i].callData);
            if (!success && !calls[i].allowFailure) revert CallFailed(i);
            results[i] = Result(success, data);
        }
    }
}
