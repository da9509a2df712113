// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title OftTokenLike
/// @notice Test double of XAUt0 on a destination chain: an ERC-20 whose only minter and burner
/// is its OFT contract (OftMinterLike), so a bridge-in is a Transfer from 0x0 and a bridge-out
/// a Transfer to 0x0, while OFTReceived/OFTSent come from the OFT contract's address.
contract OftTokenLike {
    string public constant name = "XAUt0 (test)";
    string public constant symbol = "XAUt0";
    uint8 public constant decimals = 6;

    address public oft;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    function setOft(address oft_) external {
        require(oft == address(0), "OFT already set");
        oft = oft_;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        require(to != address(0), "ERC20: transfer to the zero address");
        require(amount <= balanceOf[msg.sender], "ERC20: transfer amount exceeds balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == oft, "only the OFT mints");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function burn(address from, uint256 amount) external {
        require(msg.sender == oft, "only the OFT burns");
        require(amount <= balanceOf[from], "ERC20: burn amount exceeds balance");
        balanceOf[from] -= amount;
        totalSupply -= amount;
        emit Transfer(from, address(0), amount);
    }
}
