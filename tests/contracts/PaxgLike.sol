// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title PaxgLike
/// @notice Test double of the PAXG V1 implementation, deployed behind ZosProxy like the real one.
/// It reproduces the exact log sequences of PAXG V1 (its verified source): the two-leg Transfer
/// per transfer (fee leg emitted even when the fee is 0), FeeCollected only when fee > 0,
/// SupplyIncreased/SupplyDecreased next to mint/burn Transfers, the three-log wipe. Balances and
/// totalSupply are honest. Storage is the proxy's: `initialize` stands in for the constructor.
/// No access control: any caller may mint, freeze, set the fee, etc. No signature checks.
contract PaxgLike {
    string public constant name = "PaxgLike Gold";
    string public constant symbol = "PAXG";
    uint8 public constant decimals = 18;
    uint256 public constant FEE_PARTS = 1_000_000;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isFrozen;
    mapping(address => uint256) public nextSeqOf;

    address public supplyController;
    address public feeRecipient;
    uint256 public feeRate;

    // ERC20
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    // supply
    event SupplyIncreased(address indexed to, uint256 value);
    event SupplyDecreased(address indexed from, uint256 value);
    event SupplyControllerSet(address indexed oldController, address indexed newController);
    // fees
    event FeeCollected(address indexed from, address indexed to, uint256 value);
    event FeeRateSet(uint256 indexed oldFeeRate, uint256 indexed newFeeRate);
    event FeeRecipientSet(address indexed oldRecipient, address indexed newRecipient);
    // asset protection
    event AddressFrozen(address indexed addr);
    event AddressUnfrozen(address indexed addr);
    event FrozenAddressWiped(address indexed addr);
    // delegated transfer
    event BetaDelegatedTransfer(
        address indexed from, address indexed to, uint256 value, uint256 seq, uint256 serviceFee
    );
    /// @notice Once, through the proxy (the implementation's own storage is never used).
    function initialize(address supplyController_, address feeRecipient_) external {
        require(supplyController == address(0), "already initialized");
        require(supplyController_ != address(0), "supply controller is zero");
        require(feeRecipient_ != address(0), "fee recipient is zero");
        supplyController = supplyController_;
        feeRecipient = feeRecipient_;
    }

    // ------------------------------------------------------------------ ERC20

    function transfer(address to, uint256 value) external returns (bool) {
        _requireNotFrozen(msg.sender, to);
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        _requireNotFrozen(from, to);
        require(!isFrozen[msg.sender], "address frozen");
        require(value <= allowance[from][msg.sender], "insufficient allowance");
        allowance[from][msg.sender] -= value; // no Approval event, like PAXG V1
        _transfer(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Many transfers from msg.sender in one transaction (load tests).
    function batchTransfer(address[] calldata to, uint256[] calldata values) external returns (bool) {
        require(to.length == values.length, "length mismatch");
        for (uint256 i = 0; i < to.length; i++) {
            _requireNotFrozen(msg.sender, to[i]);
            _transfer(msg.sender, to[i], values[i]);
        }
        return true;
    }

    /// @notice Simplified PAXG betaDelegatedTransfer: no signature, `relayer` stands in for msg.sender.
    function betaDelegatedTransfer(
        address from,
        address to,
        uint256 value,
        uint256 serviceFee,
        address relayer
    ) external returns (bool) {
        _requireNotFrozen(from, to);
        require(!isFrozen[relayer], "address frozen");
        require(relayer != address(0), "cannot transfer to address zero");
        require(value + serviceFee <= balanceOf[from], "insufficient funds");
        uint256 principal = _transfer(from, to, value);
        if (serviceFee > 0) {
            balanceOf[from] -= serviceFee;
            balanceOf[relayer] += serviceFee;
            emit Transfer(from, relayer, serviceFee);
        }
        uint256 seq = nextSeqOf[from];
        nextSeqOf[from] = seq + 1;
        emit BetaDelegatedTransfer(from, to, principal, seq, serviceFee);
        return true;
    }

    // ------------------------------------------------------------------ supply

    function increaseSupply(uint256 value) external returns (bool) {
        _mint(value);
        return true;
    }

    /// @notice n mints of `value` each to the supply controller (load tests).
    function batchIncreaseSupply(uint256 n, uint256 value) external returns (bool) {
        for (uint256 i = 0; i < n; i++) {
            _mint(value);
        }
        return true;
    }

    function decreaseSupply(uint256 value) external returns (bool) {
        address sc = supplyController;
        require(value <= balanceOf[sc], "not enough supply");
        balanceOf[sc] -= value;
        totalSupply -= value;
        emit SupplyDecreased(sc, value);
        emit Transfer(sc, address(0), value);
        return true;
    }

    function setSupplyController(address newSupplyController) external {
        require(newSupplyController != address(0), "cannot set supply controller to address zero");
        emit SupplyControllerSet(supplyController, newSupplyController);
        supplyController = newSupplyController;
    }

    // ------------------------------------------------------------------ fees

    function getFeeFor(uint256 value) public view returns (uint256) {
        return value * feeRate / FEE_PARTS;
    }

    function setFeeRate(uint256 newFeeRate) external {
        require(newFeeRate <= FEE_PARTS, "cannot set fee rate above 100%");
        emit FeeRateSet(feeRate, newFeeRate);
        feeRate = newFeeRate;
    }

    function setFeeRecipient(address newFeeRecipient) external {
        require(newFeeRecipient != address(0), "cannot set fee recipient to address zero");
        emit FeeRecipientSet(feeRecipient, newFeeRecipient);
        feeRecipient = newFeeRecipient;
    }

    // ------------------------------------------------------------------ asset protection

    function freeze(address addr) external {
        require(!isFrozen[addr], "address already frozen");
        isFrozen[addr] = true;
        emit AddressFrozen(addr);
    }

    function unfreeze(address addr) external {
        require(isFrozen[addr], "address already unfrozen");
        isFrozen[addr] = false;
        emit AddressUnfrozen(addr);
    }

    function wipeFrozenAddress(address addr) external {
        require(isFrozen[addr], "address is not frozen");
        uint256 bal = balanceOf[addr];
        balanceOf[addr] = 0;
        totalSupply -= bal;
        emit FrozenAddressWiped(addr);
        emit SupplyDecreased(addr, bal);
        emit Transfer(addr, address(0), bal);
    }

    /// @notice Like PAXG V1 reclaimPAXG: moves tokens held by the token contract itself to the
    /// caller, emitting Transfer(address(this), msg.sender, bal).
    function reclaimPAXG() external {
        uint256 bal = balanceOf[address(this)];
        balanceOf[address(this)] = 0;
        balanceOf[msg.sender] += bal;
        emit Transfer(address(this), msg.sender, bal);
    }

    // ------------------------------------------------------------------ internal

    function _requireNotFrozen(address from, address to) internal view {
        require(!isFrozen[from] && !isFrozen[to], "address frozen");
    }

    /// @dev PAXG V1 _transfer: principal leg, fee leg (always), FeeCollected when fee > 0.
    function _transfer(address from, address to, uint256 value) internal returns (uint256 principal) {
        require(to != address(0), "cannot transfer to address zero");
        require(value <= balanceOf[from], "insufficient funds");
        uint256 fee = getFeeFor(value);
        principal = value - fee;
        address recipient = feeRecipient;
        balanceOf[from] -= value;
        balanceOf[to] += principal;
        emit Transfer(from, to, principal);
        emit Transfer(from, recipient, fee);
        if (fee > 0) {
            balanceOf[recipient] += fee;
            emit FeeCollected(from, recipient, fee);
        }
    }

    function _mint(uint256 value) internal {
        address sc = supplyController;
        totalSupply += value;
        balanceOf[sc] += value;
        emit SupplyIncreased(sc, value);
        emit Transfer(address(0), sc, value);
    }
}
