// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TournamentToken
/// @notice The NMR-like stake token: a fixed supply minted once at deployment, burnable (a burn lowers the total
/// supply for good) and with EIP-2612 permit, so a participant can approve and stake in one transaction.
/// @dev There is no mint function after the constructor: the supply can only fall.
contract TournamentToken is ERC20, ERC20Burnable, ERC20Permit {
    /// @notice Mints the whole supply to `holder`.
    /// @param name_ Token name (also the EIP-712 domain name used by permit).
    /// @param symbol_ Token symbol.
    /// @param supply Total supply in the smallest unit (18 decimals).
    /// @param holder Receives the whole supply.
    constructor(string memory name_, string memory symbol_, uint256 supply, address holder)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _mint(holder, supply);
    }
}
