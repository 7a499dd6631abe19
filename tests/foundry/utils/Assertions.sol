// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @notice Minimal assertions for forge tests (no forge-std). A failed assertion reverts with a message that
/// names what was compared and both values, which forge prints with the failing call sequence.
abstract contract Assertions {
    /// @dev forge runs any `setUp` first, then each `test*` / `invariant_*` function on a fresh copy.
    function _fail(string memory what, uint256 a, uint256 b) private pure {
        revert(string.concat(what, ": ", Strings.toString(a), " vs ", Strings.toString(b)));
    }

    function assertTrue(bool ok, string memory what) internal pure {
        if (!ok) revert(what);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) _fail(string.concat(what, " (expected equal)"), a, b);
    }

    function assertEq(int256 a, int256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, " (expected equal): ", Strings.toStringSigned(a), " vs ", Strings.toStringSigned(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, " (expected equal bytes32)"));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, " (expected equal address)"));
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) _fail(string.concat(what, " (expected <=)"), a, b);
    }

    function assertGe(uint256 a, uint256 b, string memory what) internal pure {
        if (a < b) _fail(string.concat(what, " (expected >=)"), a, b);
    }

    function assertLt(uint256 a, uint256 b, string memory what) internal pure {
        if (a >= b) _fail(string.concat(what, " (expected <)"), a, b);
    }

    function assertGt(uint256 a, uint256 b, string memory what) internal pure {
        if (a <= b) _fail(string.concat(what, " (expected >)"), a, b);
    }

    /// @dev |a - b| <= tol.
    function assertApprox(uint256 a, uint256 b, uint256 tol, string memory what) internal pure {
        uint256 d = a > b ? a - b : b - a;
        if (d > tol) _fail(string.concat(what, " (expected within tolerance)"), a, b);
    }

    /// @dev Maps any x onto [lo, hi] without rejecting runs (forge-std's `bound`, written from its definition).
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        uint256 span = hi - lo;
        if (span == type(uint256).max) return x;
        return lo + (x % (span + 1));
    }
}
