// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EnergyToken} from "../EnergyToken.sol";

/// @dev Mints (as the sole minter), transfers and spends energy at random, counting what was minted and burned.
contract EnergyHandler {
    EnergyToken public immutable energy;
    uint256 public minted;
    uint256 public burned;
    uint256 public constant FIRST_ITEM = 10;
    uint256 public constant ITEMS = 16;

    constructor() {
        energy = new EnergyToken(1_000_000 ether, address(this));
        energy.grantRole(energy.MINTER_ROLE(), address(this));
        for (uint256 i = 0; i < ITEMS; ++i) {
            energy.setItemPrice(FIRST_ITEM + i, 3 ether);
        }
    }

    function mint(uint256 amount) external {
        amount = amount % (200_000 ether);
        try energy.mint(address(this), amount) {
            minted += amount;
        } catch {
            require(energy.totalSupply() + amount > energy.cap(), "a mint under the cap must succeed");
        }
    }

    function spend(uint256 amount, uint8 pick) external {
        amount = amount % (10 ether);
        uint256 item = FIRST_ITEM + (pick % ITEMS);
        bool unlocked = energy.hasUnlocked(address(this), item);
        try energy.spend(amount, item) {
            burned += amount;
        } catch {
            require(
                unlocked || amount < 3 ether || energy.balanceOf(address(this)) < amount, "a valid spend must succeed"
            );
        }
    }

    function give(uint256 amount) external {
        amount = amount % (energy.balanceOf(address(this)) + 1);
        energy.transfer(address(0xBEEF), amount);
    }
}

contract EnergyTokenTest {
    EnergyHandler internal handler;

    function setUp() public {
        handler = new EnergyHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Invariant: totalSupply = minted - burned, and it never exceeds the cap.
    function invariant_supplyIsMintedMinusBurnedUnderCap() public view {
        EnergyToken energy = handler.energy();
        require(energy.totalSupply() == handler.minted() - handler.burned(), "supply != minted - burned");
        require(energy.totalSupply() <= energy.cap(), "over the cap");
    }

    /// @notice Fuzz: only the minter role mints.
    function testFuzz_onlyMinterMints(address to, uint256 amount) public {
        EnergyToken energy = new EnergyToken(1 ether, address(this));
        if (to == address(0)) to = address(1);
        try energy.mint(to, amount % 1 ether) {
            revert("minted without the role");
        } catch {}
        require(energy.totalSupply() == 0, "supply moved");
    }
}
