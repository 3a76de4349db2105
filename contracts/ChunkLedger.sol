// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ChunkLedger
/// @notice The trust root of the Seedcraft world: for every chunk, the version and Merkle hash of its
/// latest anchored snapshot, plus the BitTorrent info hash under which that snapshot is seeded.
/// @dev Every write goes through `_anchor`, which emits `ChunkAnchored` with all the indexer needs.
contract ChunkLedger {
    struct ChunkHead {
        uint64 version;
        bytes32 hash;
    }

    /// @notice The caller expected `chunkId` to be at `expected`, but the ledger holds `actual`.
    error StaleChunkVersion(uint256 chunkId, uint64 expected, uint64 actual);
    /// @notice A chunk hash of zero is reserved for "never anchored".
    error EmptyChunkHash(uint256 chunkId);

    /// @notice A new version of `chunkId` was anchored by `author`.
    event ChunkAnchored(
        uint256 indexed chunkId,
        uint64 version,
        bytes32 hash,
        bytes20 infoHash,
        address indexed author
    );

    mapping(uint256 chunkId => ChunkHead) private _heads;

    /// @notice Anchors a new snapshot of one chunk, compare-and-swap on its version.
    /// @param chunkId The packed chunk coordinates (see core/chunk.ts `chunkIdOf`).
    /// @param expectedVersion The version the caller built on; reverts with `StaleChunkVersion` otherwise.
    /// @param newHash The Merkle root of the new snapshot's canonical encoding.
    /// @param infoHash The BitTorrent v1 info hash of the new snapshot's torrent (zero when not seeded yet).
    /// @return version The version just anchored (`expectedVersion + 1`).
    function anchor(uint256 chunkId, uint64 expectedVersion, bytes32 newHash, bytes20 infoHash)
        external
        returns (uint64 version)
    {
        return _anchor(chunkId, expectedVersion, newHash, infoHash, msg.sender);
    }

    /// @notice Packs signed 32-bit chunk coordinates into a chunk id: uint32(cx) << 64 | uint32(cy) << 32 | uint32(cz).
    /// @dev Identical to core/chunk.ts `chunkIdOf`.
    function chunkIdOf(int32 cx, int32 cy, int32 cz) external pure returns (uint256) {
        return (uint256(uint32(cx)) << 64) | (uint256(uint32(cy)) << 32) | uint256(uint32(cz));
    }

    /// @notice The latest anchored version and hash of `chunkId` (version 0 and hash 0: untouched terrain).
    function headOf(uint256 chunkId) external view returns (uint64 version, bytes32 hash) {
        ChunkHead storage head = _heads[chunkId];
        return (head.version, head.hash);
    }

    function _anchor(uint256 chunkId, uint64 expectedVersion, bytes32 newHash, bytes20 infoHash, address author)
        internal
        returns (uint64 version)
    {
        if (newHash == bytes32(0)) revert EmptyChunkHash(chunkId);
        ChunkHead storage head = _heads[chunkId];
        uint64 current = head.version;
        if (current != expectedVersion) revert StaleChunkVersion(chunkId, expectedVersion, current);
        unchecked {
            version = current + 1;
        }
        head.version = version;
        head.hash = newHash;
        emit ChunkAnchored(chunkId, version, newHash, infoHash, author);
    }
}
