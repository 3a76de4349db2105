// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title EnergyToken
/// @notice Seedcraft's ERC-20 "energy": minted only to seeders for proven seeding (by SeedingRewards,
/// the only MINTER_ROLE holder), spent by players to unlock premium block types.
contract EnergyToken is ERC20, ERC20Permit, ERC20Capped, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice The item is not for sale (no unlock price set).
    error UnknownItem(uint256 itemId);
    /// @notice The amount offered is below the item's unlock price.
    error PriceNotMet(uint256 itemId, uint256 offered, uint256 price);
    /// @notice The player has unlocked this item already.
    error AlreadyUnlocked(address player, uint256 itemId);

    /// @notice The unlock price of `itemId` was set.
    event ItemPriced(uint256 indexed itemId, uint256 price);
    /// @notice `player` burned `amount` energy and unlocked `itemId`.
    event EnergySpent(address indexed player, uint256 indexed itemId, uint256 amount);

    mapping(uint256 itemId => uint256 price) private _prices;
    mapping(address player => mapping(uint256 itemId => bool)) private _unlocked;

    /// @param supplyCap The most energy that can ever exist.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants MINTER_ROLE (to SeedingRewards) and sets prices.
    constructor(uint256 supplyCap, address admin)
        ERC20("Seedcraft Energy", "ENERGY")
        ERC20Permit("Seedcraft Energy")
        ERC20Capped(supplyCap)
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mints energy; only SeedingRewards (MINTER_ROLE) may.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Sets the price in energy to unlock `itemId` (a premium block id); 0 withdraws it from sale.
    function setItemPrice(uint256 itemId, uint256 price) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _prices[itemId] = price;
        emit ItemPriced(itemId, price);
    }

    /// @notice Burns `amount` of the sender's energy to unlock `itemId` for the sender.
    function spend(uint256 amount, uint256 itemId) external {
        uint256 price = _prices[itemId];
        if (price == 0) revert UnknownItem(itemId);
        if (amount < price) revert PriceNotMet(itemId, amount, price);
        if (_unlocked[msg.sender][itemId]) revert AlreadyUnlocked(msg.sender, itemId);
        _unlocked[msg.sender][itemId] = true;
        _burn(msg.sender, amount);
        emit EnergySpent(msg.sender, itemId, amount);
    }

    function priceOf(uint256 itemId) external view returns (uint256) {
        return _prices[itemId];
    }

    function hasUnlocked(address player, uint256 itemId) external view returns (bool) {
        return _unlocked[player][itemId];
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
