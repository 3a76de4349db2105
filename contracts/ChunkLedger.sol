// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {SessionRegistry} from "./SessionRegistry.sol";

/// @title ChunkLedger
/// @notice The trust root of the Seedcraft world: for every chunk, the version of its latest anchored
/// snapshot; for every anchor, an event with the snapshot's Merkle hash, its BitTorrent info hash, its
/// author and the clock watermark of the state it describes; and for every batch, a Merkle root over
/// `(chunkId, version, hash)` so other contracts can check that a hash was anchored.
/// @dev Storage holds only what compare-and-swap needs: a `uint32` version per chunk, packed eight to a
/// slot over a 2×2×2 block of neighbouring chunks (a batch covers an area, so its chunks share slots).
/// Hashes live in events (the indexer's source) and in the batch roots. A batch is all or nothing: one
/// stale item reverts it, naming the chunk and its current version, and the client rebases and retries.
contract ChunkLedger {
    /// @notice One chunk's new version in a batch.
    /// @param chunkId The packed chunk coordinates (see `chunkIdOf`).
    /// @param expectedVersion The version the new snapshot was built on (compare-and-swap).
    /// @param newHash The Merkle root of the new snapshot's canonical encoding (core/merkle.ts).
    /// @param infoHash The BitTorrent v1 info hash of the new snapshot's torrent (zero when not seeded yet).
    /// @param watermark The hybrid logical clock of the newest op the snapshot holds: `wallMs << 16 | logical`.
    struct ChunkUpdate {
        uint256 chunkId;
        uint32 expectedVersion;
        bytes32 newHash;
        bytes20 infoHash;
        uint64 watermark;
    }

    /// @notice The most chunks one batch may carry (it bounds the in-memory Merkle tree).
    uint256 public constant MAX_BATCH = 256;

    /// @notice The caller expected `chunkId` to be at `expected`, but the ledger holds `actual`.
    error StaleChunkVersion(uint256 chunkId, uint32 expected, uint32 actual);
    /// @notice A chunk hash of zero is reserved for "never anchored".
    error EmptyChunkHash(uint256 chunkId);
    /// @notice Chunk ids are 96 bits: three packed `uint32` coordinates.
    error InvalidChunkId(uint256 chunkId);
    /// @notice A batch must carry between 1 and `MAX_BATCH` updates.
    error BadBatchSize(uint256 size);
    /// @notice `chunkId` has been anchored 2^32 - 1 times; it cannot take another version.
    error ChunkVersionExhausted(uint256 chunkId);

    /// @notice A new version of `chunkId` was anchored by `author` (a wallet, also when a session key sent it).
    event ChunkAnchored(
        uint256 indexed chunkId,
        address indexed author,
        uint32 version,
        bytes32 hash,
        bytes20 infoHash,
        uint64 watermark
    );

    /// @notice A batch of `size` anchors, whose `(chunkId, version, hash)` leaves have Merkle root `root`.
    event BatchAnchored(bytes32 indexed root, address indexed author, uint256 size);

    /// @notice The session registry: anchors sent by a live session key are credited to its wallet.
    SessionRegistry public immutable sessions;

    uint256 private constant GROUP_MASK = ~((uint256(1) << 64) | (uint256(1) << 32) | 1);
    uint256 private constant ID_LIMIT = uint256(1) << 96;

    mapping(uint256 group => uint256 packedVersions) private _versions;
    mapping(bytes32 root => uint256 blockNumber) private _roots;
    mapping(address author => uint256 timestamp) private _firstAnchorAt;

    constructor(SessionRegistry sessionRegistry) {
        sessions = sessionRegistry;
    }

    /// @notice Anchors new versions of many chunks at once, compare-and-swap on each; all or nothing.
    /// @return root The Merkle root of the batch's `(chunkId, version, hash)` leaves (see `leafOf`).
    function anchorBatch(ChunkUpdate[] calldata updates) external returns (bytes32 root) {
        uint256 size = updates.length;
        if (size == 0 || size > MAX_BATCH) revert BadBatchSize(size);
        address author = _author();
        // The batch's Merkle tree, in the layout of OpenZeppelin's merkle-tree library (leaves last, reversed).
        bytes32[] memory tree = new bytes32[](2 * size - 1);
        for (uint256 i = 0; i < size; ++i) {
            ChunkUpdate calldata update = updates[i];
            uint32 version = _bump(update.chunkId, update.expectedVersion, update.newHash);
            tree[tree.length - 1 - i] = leafOf(update.chunkId, version, update.newHash);
            emit ChunkAnchored(update.chunkId, author, version, update.newHash, update.infoHash, update.watermark);
        }
        for (uint256 i = size - 1; i > 0; --i) {
            tree[i - 1] = Hashes.commutativeKeccak256(tree[2 * i - 1], tree[2 * i]);
        }
        root = tree[0];
        _roots[root] = block.number;
        emit BatchAnchored(root, author, size);
    }

    /// @notice Anchors a new version of one chunk (a batch of one).
    /// @return version The version just anchored (`expectedVersion + 1`).
    function anchor(uint256 chunkId, uint32 expectedVersion, bytes32 newHash, bytes20 infoHash, uint64 watermark)
        external
        returns (uint32 version)
    {
        address author = _author();
        version = _bump(chunkId, expectedVersion, newHash);
        bytes32 root = leafOf(chunkId, version, newHash);
        _roots[root] = block.number;
        emit ChunkAnchored(chunkId, author, version, newHash, infoHash, watermark);
        emit BatchAnchored(root, author, 1);
    }

    /// @notice The latest anchored version of `chunkId` (0: untouched terrain).
    function versionOf(uint256 chunkId) external view returns (uint32) {
        if (chunkId >= ID_LIMIT) revert InvalidChunkId(chunkId);
        return uint32(_versions[chunkId & GROUP_MASK] >> _shiftOf(chunkId));
    }

    /// @notice The block in which a batch with Merkle root `root` was anchored (0: never).
    function rootAnchoredAt(bytes32 root) external view returns (uint256) {
        return _roots[root];
    }

    /// @notice When `author` first anchored a chunk (0: never): other contracts read it as proof of play.
    function firstAnchorAt(address author) external view returns (uint256) {
        return _firstAnchorAt[author];
    }

    /// @notice The Merkle leaf of one anchor: `keccak256(keccak256(abi.encode(chunkId, version, hash)))`,
    /// as OpenZeppelin's `StandardMerkleTree` hashes `["uint256", "uint32", "bytes32"]` values.
    function leafOf(uint256 chunkId, uint32 version, bytes32 hash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(chunkId, version, hash))));
    }

    /// @notice Packs signed 32-bit chunk coordinates into a chunk id: uint32(cx) << 64 | uint32(cy) << 32 | uint32(cz).
    /// @dev Identical to core/chunk.ts `chunkIdOf`.
    function chunkIdOf(int32 cx, int32 cy, int32 cz) external pure returns (uint256) {
        return (uint256(uint32(cx)) << 64) | (uint256(uint32(cy)) << 32) | uint256(uint32(cz));
    }

    /// @dev Compare-and-swap one chunk's version; returns the new one.
    function _bump(uint256 chunkId, uint32 expectedVersion, bytes32 newHash) private returns (uint32 version) {
        if (chunkId >= ID_LIMIT) revert InvalidChunkId(chunkId);
        if (newHash == bytes32(0)) revert EmptyChunkHash(chunkId);
        uint256 group = chunkId & GROUP_MASK;
        uint256 shift = _shiftOf(chunkId);
        uint256 packed = _versions[group];
        uint32 current = uint32(packed >> shift);
        if (current != expectedVersion) revert StaleChunkVersion(chunkId, expectedVersion, current);
        if (current == type(uint32).max) revert ChunkVersionExhausted(chunkId);
        unchecked {
            version = current + 1;
            // The lane holds `current`, so adding 1 << shift only changes this chunk's 32 bits.
            _versions[group] = packed + (uint256(1) << shift);
        }
    }

    /// @dev Where a chunk's version sits in its group's slot: the low bit of each coordinate picks one of eight lanes.
    function _shiftOf(uint256 chunkId) private pure returns (uint256) {
        return (((chunkId >> 62) & 4) | ((chunkId >> 31) & 2) | (chunkId & 1)) * 32;
    }

    /// @dev The wallet behind the sender: its own, or the wallet of a live session key. Records first play.
    function _author() private returns (address author) {
        author = sessions.walletOf(msg.sender);
        if (author == address(0)) author = msg.sender;
        if (_firstAnchorAt[author] == 0) _firstAnchorAt[author] = block.timestamp;
    }
}
