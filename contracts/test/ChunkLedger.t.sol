// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ChunkLedger} from "../ChunkLedger.sol";
import {SessionRegistry} from "../SessionRegistry.sol";

/// @dev Drives a ChunkLedger with random anchors and batches over a few neighbouring chunks (negative
/// coordinates included, so packed lanes straddle zero) and counts the successful ones per chunk.
contract LedgerHandler {
    ChunkLedger public immutable ledger;
    uint256[] public ids;
    mapping(uint256 id => uint32) public anchors;
    uint256 public stale;

    constructor(ChunkLedger ledger_) {
        ledger = ledger_;
        for (int32 x = -2; x < 2; ++x) {
            for (int32 y = -1; y < 1; ++y) {
                for (int32 z = -1; z < 1; ++z) {
                    ids.push(ledger.chunkIdOf(x, y, z));
                }
            }
        }
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    /// @dev One anchor: on the current version most of the time, on a stale or future one otherwise.
    function anchorOne(uint256 pick, uint8 skew, bytes32 hash) external {
        uint256 id = ids[pick % ids.length];
        uint32 expected = anchors[id];
        if (skew % 4 == 0) expected = expected == 0 ? 1 : expected - 1;
        try ledger.anchor(id, expected, hash == 0 ? bytes32(uint256(1)) : hash, bytes20(hash), 1) returns (
            uint32 version
        ) {
            require(version == anchors[id] + 1, "a successful anchor must move the version by one");
            anchors[id] = version;
        } catch {
            require(expected != anchors[id], "an anchor on the current version must succeed");
            ++stale;
        }
    }

    /// @dev A batch of up to 8 distinct chunks; one stale item must fail the whole batch.
    function anchorMany(uint256 pick, uint8 size, bool makeStale) external {
        uint256 n = 1 + (size % 8);
        ChunkLedger.ChunkUpdate[] memory updates = new ChunkLedger.ChunkUpdate[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = ids[(pick + i) % ids.length];
            updates[i] = ChunkLedger.ChunkUpdate({
                chunkId: id,
                expectedVersion: anchors[id],
                newHash: keccak256(abi.encode(pick, i)),
                infoHash: bytes20(0),
                watermark: uint64(i)
            });
        }
        if (makeStale) updates[n - 1].expectedVersion += 1;
        try ledger.anchorBatch(updates) {
            require(!makeStale, "a stale batch must fail");
            for (uint256 i = 0; i < n; ++i) {
                ++anchors[updates[i].chunkId];
            }
        } catch {
            require(makeStale, "a batch on current versions must succeed");
            ++stale;
        }
    }
}

contract ChunkLedgerTest {
    ChunkLedger internal ledger;
    LedgerHandler internal handler;

    function setUp() public {
        ledger = new ChunkLedger(new SessionRegistry());
        handler = new LedgerHandler(ledger);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Invariant: every chunk's version equals the number of anchors that succeeded on it.
    function invariant_versionRisesByOnePerAnchor() public view {
        uint256 count = handler.idCount();
        for (uint256 i = 0; i < count; ++i) {
            uint256 id = handler.ids(i);
            require(ledger.versionOf(id) == handler.anchors(id), "version != successful anchors");
        }
    }

    /// @notice Fuzz: ids pack like core/chunk.ts, and anchoring one chunk moves no neighbour sharing its slot.
    function testFuzz_packingAndLanes(int32 cx, int32 cy, int32 cz, bytes32 hash) public {
        uint256 id = ledger.chunkIdOf(cx, cy, cz);
        require(id == (uint256(uint32(cx)) << 64) | (uint256(uint32(cy)) << 32) | uint256(uint32(cz)), "packing");
        if (hash == 0) hash = bytes32(uint256(1));
        require(ledger.anchor(id, 0, hash, bytes20(0), 0) == 1, "first anchor is version 1");
        require(ledger.versionOf(id) == 1, "version");
        uint256[3] memory flips = [uint256(1), uint256(1) << 32, uint256(1) << 64];
        for (uint256 i = 0; i < 3; ++i) {
            require(ledger.versionOf(id ^ flips[i]) == 0, "a neighbour moved");
        }
        require(ledger.rootAnchoredAt(ledger.leafOf(id, 1, hash)) == block.number, "root recorded");
    }

    /// @notice Fuzz: a stale expected version always reverts and changes nothing.
    function testFuzz_staleAnchorChangesNothing(uint96 rawId, uint32 wrong) public {
        uint256 id = uint256(rawId);
        ledger.anchor(id, 0, keccak256("v1"), bytes20(0), 0);
        if (wrong == 1) wrong = 2;
        try ledger.anchor(id, wrong, keccak256("v2"), bytes20(0), 0) {
            revert("a stale anchor succeeded");
        } catch (bytes memory reason) {
            require(
                keccak256(reason)
                    == keccak256(abi.encodeWithSelector(ChunkLedger.StaleChunkVersion.selector, id, wrong, uint32(1))),
                "wrong error"
            );
        }
        require(ledger.versionOf(id) == 1, "changed");
    }
}
