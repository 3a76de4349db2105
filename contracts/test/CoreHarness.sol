// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {BlockOps} from "../lib/BlockOps.sol";
import {ChunkMerkle} from "../lib/ChunkMerkle.sol";

/// @notice Test-only: exposes the libraries so tests can check core/ against Solidity.
contract CoreHarness is EIP712("Seedcraft", "1") {
    function recoverOp(BlockOps.BlockOp calldata op, bytes32 r, bytes32 vs) external view returns (address) {
        return ECDSA.recover(_hashTypedDataV4(BlockOps.hashOp(op)), r, vs);
    }

    function recoverBatch(BlockOps.BlockOp[] calldata ops, bytes32 r, bytes32 vs) external view returns (address) {
        return ECDSA.recover(_hashTypedDataV4(BlockOps.hashBatch(ops)), r, vs);
    }

    bytes32 private constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(address seeder,address leecher,bytes32 contentHash,uint64 bytes,uint32 epoch,uint64 nonce)"
    );

    function recoverReceipt(
        address seeder,
        address leecher,
        bytes32 contentHash,
        uint64 size,
        uint32 epoch,
        uint64 nonce,
        bytes32 r,
        bytes32 vs
    ) external view returns (address) {
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, seeder, leecher, contentHash, size, epoch, nonce));
        return ECDSA.recover(_hashTypedDataV4(structHash), r, vs);
    }

    function verifyLeaf(bytes32 root, uint256 leafIndex, bytes calldata leaf, bytes32[] calldata siblings)
        external
        pure
        returns (bool)
    {
        return ChunkMerkle.verify(root, leafIndex, leaf, siblings);
    }
}
