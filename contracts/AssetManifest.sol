// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title AssetManifest
/// @notice Pins the hash of the world's asset manifest (the packs listed in deployments/<network>.json):
/// clients fetch packs from any peer and trust only bytes that match the manifest pinned here.
contract AssetManifest is Ownable {
    /// @notice A manifest hash cannot be zero: zero means "nothing pinned".
    error EmptyManifest();

    /// @notice The owner pinned `manifestHash`; it replaces the one before.
    event ManifestPinned(bytes32 indexed manifestHash, bytes32 previousHash);

    bytes32 private _manifestHash;

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Pins a new manifest hash (keccak256 of the ABI-encoded pack list). Only the owner.
    function pin(bytes32 newManifestHash) external onlyOwner {
        if (newManifestHash == bytes32(0)) revert EmptyManifest();
        _pin(newManifestHash);
    }

    /// @notice The manifest hash pinned now; zero before the first pin.
    function manifestHash() external view returns (bytes32) {
        return _manifestHash;
    }

    function _pin(bytes32 newManifestHash) internal {
        bytes32 previous = _manifestHash;
        _manifestHash = newManifestHash;
        emit ManifestPinned(newManifestHash, previous);
    }
}
