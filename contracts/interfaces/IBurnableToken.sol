// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The part of the stake token the tournament needs beyond ERC-20: burning its own balance.
interface IBurnableToken is IERC20 {
    /// @notice Destroys `value` tokens of the caller, lowering the total supply.
    function burn(uint256 value) external;
}
