// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ChunkMerkle
/// @notice The chunk hash of core/merkle.ts: a keccak256 Merkle tree over a chunk's 65,536-byte canonical
/// encoding cut into 64 leaves of 1 KiB, with domain separation: leaf = keccak256(0x00 ‖ bytes),
/// node = keccak256(0x01 ‖ left ‖ right).
library ChunkMerkle {
    uint256 internal constant LEAF_BYTES = 1024;
    uint256 internal constant LEAF_COUNT = 64;
    uint256 internal constant DEPTH = 6;

    function leafHash(bytes calldata leaf) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), leaf));
    }

    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Whether `leaf` is leaf number `leafIndex` of the chunk whose hash is `root`.
    function verify(bytes32 root, uint256 leafIndex, bytes calldata leaf, bytes32[] calldata siblings)
        internal
        pure
        returns (bool)
    {
        if (leaf.length != LEAF_BYTES || siblings.length != DEPTH || leafIndex >= LEAF_COUNT) return false;
        bytes32 hash = leafHash(leaf);
        uint256 position = leafIndex;
        for (uint256 i = 0; i < DEPTH; ++i) {
            hash = position & 1 == 0 ? nodeHash(hash, siblings[i]) : nodeHash(siblings[i], hash);
            position >>= 1;
        }
        return hash == root;
    }
}
