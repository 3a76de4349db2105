// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BlockOps
/// @notice EIP-712 struct hashes of the block ops of core/op.ts, so contracts can check who signed an op
/// or a batch of ops (under an EIP712 domain named "Seedcraft", version "1").
library BlockOps {
    struct BlockOp {
        uint96 chunk;
        uint16 index;
        /// @dev Named `block` in the EIP-712 type.
        uint16 blockId;
        uint48 wallMs;
        uint16 logical;
        address author;
    }

    bytes32 internal constant OP_TYPEHASH =
        keccak256("BlockOp(uint96 chunk,uint16 index,uint16 block,uint48 wallMs,uint16 logical,address author)");
    bytes32 internal constant BATCH_TYPEHASH = keccak256(
        "BlockOpBatch(BlockOp[] ops)BlockOp(uint96 chunk,uint16 index,uint16 block,uint48 wallMs,uint16 logical,address author)"
    );

    function hashOp(BlockOp calldata op) internal pure returns (bytes32) {
        return keccak256(abi.encode(OP_TYPEHASH, op.chunk, op.index, op.blockId, op.wallMs, op.logical, op.author));
    }

    function hashBatch(BlockOp[] calldata ops) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](ops.length);
        for (uint256 i = 0; i < ops.length; ++i) {
            hashes[i] = hashOp(ops[i]);
        }
        return keccak256(abi.encode(BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes))));
    }
}
