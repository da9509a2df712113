// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title XautLike
/// @notice Test double of the current XAUT (TetherToken behind an EIP-1967 proxy) for local-chain
/// tests. It reproduces the log sequences of shared FACTS.md: Transfer then Mint, Transfer then
/// Redeem, Transfer then DestroyedBlockedFunds, transferFrom's Transfer then Approval, and the
/// proxy's Upgraded(address indexed) at deployment. Balances and totalSupply are honest.
/// No access control: any caller may mint, block, destroy blocked funds, etc.
contract XautLike {
    string public constant name = "XautLike Gold";
    string public constant symbol = "XAUt";
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlocked;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Mint(address indexed _destination, uint256 _amount);
    event Redeem(uint256 _amount);
    event DestroyedBlockedFunds(address indexed _blockedUser, uint256 _balance);
    event BlockPlaced(address indexed _user);
    event BlockReleased(address indexed _user);
    // EIP-1967 proxy: implementation indexed
    event Upgraded(address indexed implementation);

    constructor() {
        emit Upgraded(address(this));
    }

    // ------------------------------------------------------------------ ERC20

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        require(!isBlocked[msg.sender], "Blocked: msg.sender is blocked");
        uint256 current = allowance[from][msg.sender];
        require(amount <= current, "ERC20: transfer amount exceeds allowance");
        _transfer(from, to, amount);
        uint256 remaining = current - amount;
        allowance[from][msg.sender] = remaining;
        emit Approval(from, msg.sender, remaining);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function multiTransfer(address[] calldata to, uint256[] calldata values) external returns (bool) {
        require(to.length == values.length, "multiTransfer: lengths differ");
        for (uint256 i = 0; i < to.length; i++) {
            _transfer(msg.sender, to[i], values[i]);
        }
        return true;
    }

    // ------------------------------------------------------------------ supply

    function mint(address dest, uint256 amt) external {
        _mint(dest, amt);
    }

    /// @notice n mints of `amt` each to `dest` (load tests).
    function batchMint(address dest, uint256 n, uint256 amt) external {
        for (uint256 i = 0; i < n; i++) {
            _mint(dest, amt);
        }
    }

    /// @notice Burns `amt` from msg.sender.
    function redeem(uint256 amt) external {
        require(!isBlocked[msg.sender], "Blocked: transfer from blocked address");
        require(amt <= balanceOf[msg.sender], "ERC20: burn amount exceeds balance");
        balanceOf[msg.sender] -= amt;
        totalSupply -= amt;
        emit Transfer(msg.sender, address(0), amt);
        emit Redeem(amt);
    }

    // ------------------------------------------------------------------ block list

    function addToBlockedList(address user) external {
        isBlocked[user] = true;
        emit BlockPlaced(user);
    }

    function removeFromBlockedList(address user) external {
        isBlocked[user] = false;
        emit BlockReleased(user);
    }

    function destroyBlockedFunds(address user) external {
        require(isBlocked[user], "user is not blocked");
        uint256 bal = balanceOf[user];
        balanceOf[user] = 0;
        totalSupply -= bal;
        emit Transfer(user, address(0), bal);
        emit DestroyedBlockedFunds(user, bal);
    }

    // ------------------------------------------------------------------ internal

    function _transfer(address from, address to, uint256 amount) internal {
        require(!isBlocked[from], "Blocked: transfer from blocked address");
        require(to != address(0), "ERC20: transfer to the zero address");
        require(amount <= balanceOf[from], "ERC20: transfer amount exceeds balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    function _mint(address dest, uint256 amt) internal {
        require(dest != address(0), "ERC20: mint to the zero address");
        totalSupply += amt;
        balanceOf[dest] += amt;
        emit Transfer(address(0), dest, amt);
        emit Mint(dest, amt);
    }
}
