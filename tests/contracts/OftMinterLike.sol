// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IOftTokenLike {
    function mint(address to, uint256 amount) external;
    function burn(address from, uint256 amount) external;
}

/// @title OftMinterLike
/// @notice Test double of XAUt0's mint-and-burn OFT contract on a destination chain: a bridge-in
/// (what LayerZero's endpoint delivers, here any caller) mints and emits OFTReceived; a
/// bridge-out burns the sender's tokens and emits OFTSent.
contract OftMinterLike {
    IOftTokenLike public immutable token;
    uint64 public nonce;

    event OFTSent(bytes32 indexed guid, uint32 dstEid, address indexed fromAddress,
                  uint256 amountSentLD, uint256 amountReceivedLD);
    event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress,
                      uint256 amountReceivedLD);

    constructor(address token_) {
        token = IOftTokenLike(token_);
    }

    function deliver(bytes32 guid, uint32 srcEid, address to, uint256 amount) external {
        token.mint(to, amount);
        emit OFTReceived(guid, srcEid, to, amount);
    }

    function send(uint32 dstEid, uint256 amount) external returns (bytes32 guid) {
        guid = keccak256(abi.encode(block.chainid, address(this), nonce++));
        token.burn(msg.sender, amount);
        emit OFTSent(guid, dstEid, msg.sender, amount, amount);
    }
}
