// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title PaxgV2Like
/// @notice Test double of PAXG's second implementation (PaxosTokenV2-based), for an upgrade of
/// ZosProxy from PaxgLike in the middle of a history: one Transfer per transfer and no fee (no
/// feeRate(), no fee leg), mints straight to any address (SupplyIncreased + Transfer from 0x0),
/// FreezeAddress/UnfreezeAddress. Its storage slots are PaxgLike's, so balances carry over.
/// No access control.
contract PaxgV2Like {
    // The slots of PaxgLike, in its order; the fee fields are dead in this version.
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) internal allowance;
    mapping(address => bool) public isFrozen;
    mapping(address => uint256) internal nextSeqOf;
    address internal supplyController;
    address internal feeRecipientDeprecated;
    uint256 internal feeRateDeprecated;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event SupplyIncreased(address indexed to, uint256 value);
    event SupplyDecreased(address indexed from, uint256 value);
    event FreezeAddress(address indexed addr);
    event UnfreezeAddress(address indexed addr);

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @notice Many transfers from msg.sender in one transaction, as a multi-send contract does.
    function batchTransfer(address[] calldata to, uint256[] calldata values) external returns (bool) {
        require(to.length == values.length, "length mismatch");
        for (uint256 i = 0; i < to.length; i++) {
            _transfer(msg.sender, to[i], values[i]);
        }
        return true;
    }

    function increaseSupplyToAddress(uint256 value, address to) external returns (bool) {
        require(!isFrozen[to], "address frozen");
        totalSupply += value;
        balanceOf[to] += value;
        emit SupplyIncreased(to, value);
        emit Transfer(address(0), to, value);
        return true;
    }

    function decreaseSupplyFromAddress(uint256 value, address from) external returns (bool) {
        require(value <= balanceOf[from], "insufficient funds");
        balanceOf[from] -= value;
        totalSupply -= value;
        emit SupplyDecreased(from, value);
        emit Transfer(from, address(0), value);
        return true;
    }

    function freeze(address addr) external {
        isFrozen[addr] = true;
        emit FreezeAddress(addr);
    }

    function unfreeze(address addr) external {
        isFrozen[addr] = false;
        emit UnfreezeAddress(addr);
    }

    function _transfer(address from, address to, uint256 value) internal {
        require(to != address(0), "cannot transfer to address zero");
        require(!isFrozen[from] && !isFrozen[to], "address frozen");
        require(value <= balanceOf[from], "insufficient funds");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
