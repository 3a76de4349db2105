// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ChunkLedger} from "./ChunkLedger.sol";
import {EnergyToken} from "./EnergyToken.sol";
import {SessionRegistry} from "./SessionRegistry.sol";
import {ChunkMerkle} from "./lib/ChunkMerkle.sol";

/// @title SeedingRewards
/// @notice Pays energy for proven seeding. Leechers sign EIP-712 receipts
/// `{seeder, leecher, contentHash, bytes, epoch, nonce}` for anchored chunk data a seeder delivered,
/// one signature over a `ReceiptBatch` of any number of them (a leecher re-signs its growing batch as
/// downloads complete, so a seeder keeps one signature per leecher and epoch). After an epoch ends, a
/// seeder claims it in two steps: `commit` binds the receipts it will claim; `claim`, in a later block,
/// proves them and proves possession of a leaf picked by the first block hash after the commit.
/// @dev What a claim must pass: the epoch's claim window; one commitment per seeder and epoch (replay
/// across claims is impossible, and receipts inside one claim must be in strictly increasing
/// `(leecher, nonce)` order, so none repeats); signatures by the leecher's wallet or live session key;
/// no receipt from the seeder to itself; every content hash anchored in ChunkLedger (Merkle proof to a
/// batch root); leechers eligible (their wallet anchored a chunk before the epoch began: anchoring costs
/// gas and is public, and a fresh identity cannot earn in the epoch it was made); caps on the bytes a
/// leecher may attest and a seeder may claim per epoch; and the possession proof.
contract SeedingRewards is EIP712("Seedcraft", "1") {
    /// @notice One anchored content a claim refers to: the chunk version whose hash it is.
    struct Content {
        uint256 chunkId;
        uint32 version;
        bytes32 hash;
    }

    /// @notice A Merkle multiproof that the next `count` contents are leaves of one anchored batch
    /// (`ChunkLedger.leafOf` leaves, in the order OpenZeppelin's `getMultiProof` returns them).
    struct Anchoring {
        uint256 count;
        bytes32[] proof;
        bool[] flags;
    }

    /// @notice A leecher's signed batch of receipts; `(r, vs)` is an EIP-2098 compact signature. Each receipt is
    /// packed in one word, `content << 128 | bytes << 64 | nonce` (see `packReceipt`): the rest (seeder,
    /// leecher, epoch) is shared by the batch, and `content` indexes the claim's `contents`.
    struct SignedBatch {
        address leecher;
        bytes32 r;
        bytes32 vs;
        uint256[] receipts;
    }

    /// @notice The challenged 1 KiB leaf of the challenged receipt's chunk, with its Merkle path (core/merkle.ts).
    struct Possession {
        bytes leaf;
        bytes32[] siblings;
    }

    /// @notice What one seeder has committed to, and whether it has been claimed.
    struct Commitment {
        bytes32 digest;
        uint64 blockNumber;
        /// @dev The committed epoch plus one (0: never committed).
        uint32 epochPlusOne;
        bool claimed;
    }

    /// @notice What one leecher has attested in its latest epoch, and since when it plays.
    struct Leecher {
        uint32 epochPlusOne;
        uint64 bytesInEpoch;
        uint64 activeSince;
    }

    bytes32 public constant RECEIPT_TYPEHASH =
        keccak256("Receipt(address seeder,address leecher,bytes32 contentHash,uint64 bytes,uint32 epoch,uint64 nonce)");
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "ReceiptBatch(Receipt[] receipts)Receipt(address seeder,address leecher,bytes32 contentHash,uint64 bytes,uint32 epoch,uint64 nonce)"
    );
    /// @notice A receipt is for one chunk snapshot at most: 32×32×32 blocks of 2 bytes.
    uint64 public constant MAX_RECEIPT_BYTES = 65_536;

    ChunkLedger public immutable ledger;
    SessionRegistry public immutable sessions;
    EnergyToken public immutable energy;
    /// @notice When epoch 0 began (the deployment's timestamp).
    uint256 public immutable genesis;
    /// @notice Seconds per epoch.
    uint256 public immutable epochLength;
    /// @notice Epoch `e` can be committed and claimed while the current epoch is in `(e, e + claimWindow]`.
    uint256 public immutable claimWindow;
    /// @notice Energy (in wei) per byte, as a fixed-point number with 18 decimals; rewards round down.
    uint256 public immutable rewardRate;
    /// @notice The most bytes one leecher may attest per epoch, over all seeders.
    uint64 public immutable leecherCap;
    /// @notice The most bytes one seeder may claim per epoch.
    uint64 public immutable seederCap;

    /// @notice A constructor parameter is out of range (zero epoch length or window, or a cap of zero).
    error InvalidConfig(string parameter);
    /// @notice Arrays that describe the same receipts have different lengths.
    error LengthMismatch();
    /// @notice The epoch is not over yet, or lies in the future.
    error EpochNotOver(uint32 epoch, uint256 current);
    /// @notice The epoch's claim window has closed.
    error ClaimWindowClosed(uint32 epoch, uint256 current);
    /// @notice The seeder has committed to this epoch or a later one already.
    error AlreadyCommitted(address seeder, uint32 epoch);
    /// @notice No open commitment to this epoch.
    error NotCommitted(address seeder, uint32 epoch);
    /// @notice The challenge block has not been mined yet: claim in a later block.
    error ChallengeNotReady(uint256 challengeBlock);
    /// @notice The challenge block is older than 256 blocks; the commitment can no longer be proven.
    error ChallengeExpired(uint256 challengeBlock);
    /// @notice Anchoring proof `index` covers no contents or more than there are, or the proofs leave contents uncovered.
    error BadAnchoring(uint256 index);
    /// @notice The receipts do not match the commitment.
    error CommitmentMismatch(bytes32 committed, bytes32 presented);
    /// @notice The claim carries no receipts.
    error EmptyClaim();
    /// @notice A receipt refers to a content the claim does not carry.
    error BadContentIndex(uint256 index);
    /// @notice The content's proof does not lead to a batch root anchored in ChunkLedger.
    error ContentNotAnchored(bytes32 contentHash);
    /// @notice The batch is not signed by the leecher's wallet or one of its live session keys.
    error BadReceiptSigner(address leecher, address signer);
    /// @notice A seeder cannot be its own leecher.
    error SelfReceipt(address seeder);
    /// @notice Receipts must come in strictly increasing `(leecher, nonce)` order: this one repeats or is out of order.
    error ReceiptOutOfOrder(address leecher, uint64 nonce);
    /// @notice A receipt's byte count must be between 1 and `MAX_RECEIPT_BYTES`.
    error BadReceiptBytes(address leecher, uint64 nonce, uint64 bytes_);
    /// @notice The leecher had not anchored a chunk before the epoch began.
    error LeecherNotEligible(address leecher, uint32 epoch);
    /// @notice The leecher would attest more than `leecherCap` bytes in the epoch.
    error LeecherCapExceeded(address leecher, uint32 epoch, uint256 bytes_, uint256 cap);
    /// @notice The seeder would claim more than `seederCap` bytes in the epoch.
    error SeederCapExceeded(address seeder, uint32 epoch, uint256 bytes_, uint256 cap);
    /// @notice The possession proof does not show the challenged leaf of the challenged content.
    error PossessionNotProven(bytes32 contentHash, uint256 leafIndex);

    /// @notice `seeder` committed to claim `epoch` with receipts hashing to `digest`.
    event ClaimCommitted(address indexed seeder, uint32 indexed epoch, bytes32 digest, uint256 challengeBlock);
    /// @notice `seeder` proved its claim for `epoch`: `receipts` receipts for `bytes_` bytes earned `reward` energy.
    event RewardClaimed(address indexed seeder, uint32 indexed epoch, uint256 receipts, uint256 bytes_, uint256 reward);

    mapping(address seeder => Commitment) private _commitments;
    mapping(address leecher => Leecher) private _leechers;

    constructor(
        ChunkLedger ledger_,
        SessionRegistry sessions_,
        EnergyToken energy_,
        uint256 epochLength_,
        uint256 claimWindow_,
        uint256 rewardRate_,
        uint64 leecherCap_,
        uint64 seederCap_
    ) {
        if (epochLength_ == 0) revert InvalidConfig("epochLength");
        if (claimWindow_ == 0) revert InvalidConfig("claimWindow");
        if (leecherCap_ == 0) revert InvalidConfig("leecherCap");
        if (seederCap_ == 0) revert InvalidConfig("seederCap");
        ledger = ledger_;
        sessions = sessions_;
        energy = energy_;
        genesis = block.timestamp;
        epochLength = epochLength_;
        claimWindow = claimWindow_;
        rewardRate = rewardRate_;
        leecherCap = leecherCap_;
        seederCap = seederCap_;
    }

    /// @notice The epoch now.
    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - genesis) / epochLength;
    }

    /// @notice When `epoch` begins (a unix timestamp).
    function epochStart(uint32 epoch) public view returns (uint256) {
        return genesis + uint256(epoch) * epochLength;
    }

    /// @notice The reward for `bytes_` bytes of proven seeding: bytes × rate, rounded down.
    function rewardFor(uint256 bytes_) public view returns (uint256) {
        return Math.mulDiv(bytes_, rewardRate, 1e18);
    }

    /// @notice What a seeder has committed to (epoch is meaningful only when `committed`).
    function commitmentOf(address seeder)
        external
        view
        returns (bool committed, uint32 epoch, bytes32 digest, uint256 challengeBlock, bool claimed)
    {
        Commitment storage c = _commitments[seeder];
        committed = c.epochPlusOne != 0;
        epoch = committed ? c.epochPlusOne - 1 : 0;
        return (committed, epoch, c.digest, c.blockNumber + 1, c.claimed);
    }

    /// @notice The bytes a leecher has attested in `epoch` over all claims so far.
    function attestedBy(address leecher, uint32 epoch) external view returns (uint64) {
        Leecher storage l = _leechers[leecher];
        return l.epochPlusOne == uint256(epoch) + 1 ? l.bytesInEpoch : 0;
    }

    /// @notice The EIP-712 digest a leecher signs for a batch of receipts to `seeder` in `epoch`.
    function batchDigest(
        address seeder,
        address leecher,
        uint32 epoch,
        bytes32[] calldata contentHashes,
        uint64[] calldata sizes,
        uint64[] calldata nonces
    ) external view returns (bytes32) {
        if (sizes.length != contentHashes.length || nonces.length != contentHashes.length) revert LengthMismatch();
        bytes32[] memory hashes = new bytes32[](contentHashes.length);
        for (uint256 i = 0; i < contentHashes.length; ++i) {
            hashes[i] = _receiptHash(seeder, leecher, contentHashes[i], sizes[i], epoch, nonces[i]);
        }
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes)))));
    }

    /// @notice How a claim carries one receipt: `content << 128 | bytes << 64 | nonce`.
    function packReceipt(uint16 content, uint64 bytes_, uint64 nonce) external pure returns (uint256) {
        return (uint256(content) << 128) | (uint256(bytes_) << 64) | nonce;
    }

    /// @notice Step 1 of a claim: bind the receipts (the hash of their batches' digests, in claim order).
    /// The challenge is the hash of the next block, which nobody knows yet.
    function commit(uint32 epoch, bytes32 digest) external {
        address seeder = _walletOf(msg.sender);
        _checkWindow(epoch);
        Commitment storage c = _commitments[seeder];
        if (c.epochPlusOne > epoch) revert AlreadyCommitted(seeder, epoch);
        c.digest = digest;
        c.blockNumber = uint64(block.number);
        c.epochPlusOne = epoch + 1;
        c.claimed = false;
        emit ClaimCommitted(seeder, epoch, digest, block.number + 1);
    }

    /// @notice Step 2: prove the committed receipts and the challenged leaf; mints the reward to the seeder.
    function claim(
        uint32 epoch,
        Content[] calldata contents,
        Anchoring[] calldata anchorings,
        SignedBatch[] calldata batches,
        Possession calldata possession
    ) external returns (uint256 reward) {
        address seeder = _walletOf(msg.sender);
        _checkWindow(epoch);
        Commitment storage c = _commitments[seeder];
        if (c.epochPlusOne != uint256(epoch) + 1 || c.claimed) revert NotCommitted(seeder, epoch);
        uint256 seed = _challengeSeed(c.blockNumber, seeder, epoch);

        _checkAnchored(contents, anchorings);
        (uint256 total, uint256 receiptCount, bytes32 challengedContent, bytes32 presented) =
            _verifyBatches(seeder, epoch, contents, batches, seed);
        if (presented != c.digest) revert CommitmentMismatch(c.digest, presented);
        if (total > seederCap) revert SeederCapExceeded(seeder, epoch, total, seederCap);

        uint256 leafIndex = (seed >> 128) % ChunkMerkle.LEAF_COUNT;
        if (!ChunkMerkle.verify(challengedContent, leafIndex, possession.leaf, possession.siblings)) {
            revert PossessionNotProven(challengedContent, leafIndex);
        }

        c.claimed = true;
        reward = rewardFor(total);
        emit RewardClaimed(seeder, epoch, receiptCount, total, reward);
        if (reward != 0) energy.mint(seeder, reward);
    }

    /// @notice Which receipt (by its position in the claim) and which of its chunk's leaves a seeder must prove,
    /// once the challenge block is mined.
    function challengeOf(address seeder, uint256 receiptCount)
        external
        view
        returns (uint256 receiptIndex, uint256 leafIndex)
    {
        Commitment storage c = _commitments[seeder];
        if (c.epochPlusOne == 0) revert NotCommitted(seeder, 0);
        uint256 seed = _challengeSeed(c.blockNumber, seeder, c.epochPlusOne - 1);
        return (seed % receiptCount, (seed >> 128) % ChunkMerkle.LEAF_COUNT);
    }

    /// @dev Every content must be a leaf of a batch root anchored in ChunkLedger; each anchoring proves the next
    /// `count` contents against one root.
    function _checkAnchored(Content[] calldata contents, Anchoring[] calldata anchorings) private view {
        uint256 next;
        for (uint256 a = 0; a < anchorings.length; ++a) {
            Anchoring calldata anchoring = anchorings[a];
            uint256 count = anchoring.count;
            if (count == 0 || next + count > contents.length) revert BadAnchoring(a);
            bytes32[] memory leaves = new bytes32[](count);
            for (uint256 i = 0; i < count; ++i) {
                Content calldata content = contents[next + i];
                leaves[i] = keccak256(bytes.concat(keccak256(abi.encode(content.chunkId, content.version, content.hash))));
            }
            bytes32 root = MerkleProof.processMultiProofCalldata(anchoring.proof, anchoring.flags, leaves);
            if (ledger.rootAnchoredAt(root) == 0) revert ContentNotAnchored(contents[next].hash);
            next += count;
        }
        if (next != contents.length) revert BadAnchoring(anchorings.length);
    }

    /// @dev Running totals while the batches of one claim are verified.
    struct Tally {
        address seeder;
        uint32 epoch;
        uint256 total;
        uint256 lastKey;
        /// @dev Position of the challenged receipt, counted down through the batches (wraps high once passed).
        uint256 challenged;
        bytes32 challengedContent;
    }

    /// @dev Verifies every batch and attests its bytes to its leecher; returns the claim's total bytes, its
    /// receipt count, the content of the challenged receipt and the hash of the batches' digests.
    function _verifyBatches(
        address seeder,
        uint32 epoch,
        Content[] calldata contents,
        SignedBatch[] calldata batches,
        uint256 seed
    ) private returns (uint256 total, uint256 receiptCount, bytes32 challengedContent, bytes32 presented) {
        for (uint256 b = 0; b < batches.length; ++b) {
            receiptCount += batches[b].receipts.length;
        }
        if (receiptCount == 0) revert EmptyClaim();
        Tally memory tally = Tally({seeder: seeder, epoch: epoch, total: 0, lastKey: 0, challenged: seed % receiptCount, challengedContent: 0});
        bytes32[] memory digests = new bytes32[](batches.length);
        for (uint256 b = 0; b < batches.length; ++b) {
            digests[b] = _verifyBatch(contents, batches[b], tally);
        }
        return (tally.total, receiptCount, tally.challengedContent, keccak256(abi.encodePacked(digests)));
    }

    /// @dev Checks one signed batch (order, sizes, content indexes, signer), attests its bytes to its leecher,
    /// updates the tally and returns the batch's EIP-712 digest.
    function _verifyBatch(
        Content[] calldata contents,
        SignedBatch calldata batch,
        Tally memory tally
    ) private returns (bytes32 digest) {
        address leecher = batch.leecher;
        if (leecher == tally.seeder) revert SelfReceipt(leecher);
        uint256[] calldata receipts = batch.receipts;
        bytes32[] memory hashes = new bytes32[](receipts.length);
        uint256 batchBytes;
        uint256 key = tally.lastKey;
        for (uint256 i = 0; i < receipts.length; ++i) {
            uint256 packed = receipts[i];
            uint64 nonce = uint64(packed);
            uint64 size = uint64(packed >> 64);
            uint256 content = packed >> 128;
            uint256 next = (uint256(uint160(leecher)) << 64) | nonce;
            if (next <= key) revert ReceiptOutOfOrder(leecher, nonce);
            key = next;
            if (size == 0 || size > MAX_RECEIPT_BYTES) revert BadReceiptBytes(leecher, nonce, size);
            if (content >= contents.length) revert BadContentIndex(content);
            bytes32 contentHash = contents[content].hash;
            if (i == tally.challenged) tally.challengedContent = contentHash;
            hashes[i] = _receiptHash(tally.seeder, leecher, contentHash, size, tally.epoch, nonce);
            batchBytes += size;
        }
        digest = _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes)))));
        address signer = ECDSA.recover(digest, batch.r, batch.vs);
        if (signer != leecher && sessions.walletOf(signer) != leecher) revert BadReceiptSigner(leecher, signer);
        unchecked {
            tally.challenged -= receipts.length;
        }
        tally.lastKey = key;
        tally.total += batchBytes;
        _attest(leecher, tally.epoch, batchBytes);
    }

    function _receiptHash(
        address seeder,
        address leecher,
        bytes32 contentHash,
        uint64 bytes_,
        uint32 epoch,
        uint64 nonce
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(RECEIPT_TYPEHASH, seeder, leecher, contentHash, bytes_, epoch, nonce));
    }

    /// @dev Eligibility and the per-leecher cap; one storage write per leecher batch.
    function _attest(address leecher, uint32 epoch, uint256 bytes_) private {
        Leecher storage l = _leechers[leecher];
        uint64 activeSince = l.activeSince;
        if (activeSince == 0) activeSince = uint64(ledger.firstAnchorAt(leecher));
        if (activeSince == 0 || activeSince >= epochStart(epoch)) revert LeecherNotEligible(leecher, epoch);
        uint256 attested = l.epochPlusOne == uint256(epoch) + 1 ? l.bytesInEpoch + bytes_ : bytes_;
        if (attested > leecherCap) revert LeecherCapExceeded(leecher, epoch, attested, leecherCap);
        l.epochPlusOne = epoch + 1;
        l.bytesInEpoch = uint64(attested);
        l.activeSince = activeSince;
    }

    function _checkWindow(uint32 epoch) private view {
        uint256 current = currentEpoch();
        if (current <= epoch) revert EpochNotOver(epoch, current);
        if (current > uint256(epoch) + claimWindow) revert ClaimWindowClosed(epoch, current);
    }

    function _challengeSeed(uint64 commitBlock, address seeder, uint32 epoch) private view returns (uint256) {
        uint256 challengeBlock = uint256(commitBlock) + 1;
        if (block.number <= challengeBlock) revert ChallengeNotReady(challengeBlock);
        bytes32 hash = blockhash(challengeBlock);
        if (hash == bytes32(0)) revert ChallengeExpired(challengeBlock);
        return uint256(keccak256(abi.encode(hash, seeder, epoch)));
    }

    function _walletOf(address sender) private view returns (address) {
        address wallet = sessions.walletOf(sender);
        return wallet == address(0) ? sender : wallet;
    }
}
