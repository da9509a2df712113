// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IXautLike {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
}

/// @title OftAdapterLike
/// @notice Test double of XAUt0's lock-and-release OFT adapter on Ethereum (FACTS.md): a
/// bridge-out locks XAUT in the adapter (the token's Transfer(user -> adapter)) and emits
/// OFTSent; a bridge-in (what LayerZero's endpoint delivers, here any caller) releases XAUT
/// and emits OFTReceived. The events are LayerZero's OFT events, field for field.
contract OftAdapterLike {
    IXautLike public immutable token;
    uint64 public nonce;

    event OFTSent(bytes32 indexed guid, uint32 dstEid, address indexed fromAddress,
                  uint256 amountSentLD, uint256 amountReceivedLD);
    event OFTReceived(bytes32 indexed guid, uint32 srcEid, address indexed toAddress,
                      uint256 amountReceivedLD);

    constructor(address token_) {
        token = IXautLike(token_);
    }

    function send(uint32 dstEid, uint256 amount) external returns (bytes32 guid) {
        guid = keccak256(abi.encode(block.chainid, address(this), nonce++));
        token.transferFrom(msg.sender, address(this), amount);
        emit OFTSent(guid, dstEid, msg.sender, amount, amount);
    }

    function deliver(bytes32 guid, uint32 srcEid, address to, uint256 amount) external {
        token.transfer(to, amount);
        emit OFTReceived(guid, srcEid, to, amount);
    }
}
