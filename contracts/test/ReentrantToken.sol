// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @title ReentrantToken (test only)
/// @notice A hostile stake token: every balance change (transfer, transferFrom, burn) calls back into a target
/// with calldata chosen by the test, to check that the tournament's guards stop reentry. The token itself can
/// act as a participant (register models, approve, stake) through {execute}, so a reentrant `withdraw` would
/// pass the owner check if the reentrancy guard were missing.
contract ReentrantToken is ERC20, ERC20Burnable {
    address public target;
    bytes public callbackData;
    /// @notice When true a failed callback reverts the outer transfer with the callback's revert data;
    /// when false the failure is recorded in {lastRevertData} and the transfer goes on.
    bool public bubble;
    bool private _inCallback;

    uint256 public callbackAttempts;
    bool public lastCallbackSucceeded;
    bytes public lastRevertData;

    constructor(uint256 supply, address holder) ERC20("Reentrant", "REE") {
        _mint(holder, supply);
    }

    /// @notice Arms the hook: the next balance changes call `target_` with `data`.
    function arm(address target_, bytes calldata data, bool bubble_) external {
        target = target_;
        callbackData = data;
        bubble = bubble_;
    }

    function disarm() external {
        target = address(0);
    }

    /// @notice Lets the token act as a participant: it calls `to` with `data` as msg.sender.
    function execute(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && !_inCallback) {
            _inCallback = true;
            callbackAttempts += 1;
            (bool ok, bytes memory ret) = target.call(callbackData);
            _inCallback = false;
            lastCallbackSucceeded = ok;
            lastRevertData = ret;
            if (!ok && bubble) {
                assembly {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }
}
