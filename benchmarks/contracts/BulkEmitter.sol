// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title BulkEmitter
/// @notice Benchmark-only: emits PAXG- or XAUT-shaped token logs from calldata, many per call,
/// and writes no storage, so a chain of a million logs builds in minutes. It is not a token:
/// balances exist only in the logs, and the caller (benchmarks/chain.py) keeps them consistent.
/// Log sequences follow ../../../shared/FACTS.md:
/// - PAXG mint: SupplyIncreased(to, v), Transfer(0x0, to, v)
/// - PAXG transfer: Transfer(from, to, v - fee), Transfer(from, feeRecipient, fee) even at fee 0,
///   FeeCollected(from, feeRecipient, fee) when fee > 0
/// - PAXG burn: SupplyDecreased(from, v), Transfer(from, 0x0, v)
/// - XAUT mint: Transfer(0x0, to, v), Mint(to, v); transfer: Transfer(from, to, v);
///   redeem: Transfer(from, 0x0, v), Redeem(v)
contract BulkEmitter {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event SupplyIncreased(address indexed to, uint256 value);
    event SupplyDecreased(address indexed from, uint256 value);
    event FeeCollected(address indexed from, address indexed to, uint256 value);
    event FeeRateSet(uint256 indexed oldFeeRate, uint256 indexed newFeeRate);
    event FeeRecipientSet(address indexed oldRecipient, address indexed newRecipient);
    event Mint(address indexed _destination, uint256 _amount);
    event Redeem(uint256 _amount);

    uint256 public constant FEE_PARTS = 1_000_000;

    bool public immutable paxgStyle;
    address public immutable feeRecipient;
    uint256 public immutable feeRate; // parts per FEE_PARTS, PAXG style only

    constructor(bool paxgStyle_, address feeRecipient_, uint256 feeRate_) {
        paxgStyle = paxgStyle_;
        feeRecipient = feeRecipient_;
        feeRate = paxgStyle_ ? feeRate_ : 0;
        if (paxgStyle_) {
            // Lets the indexer know the fee recipient from the first block on, as on mainnet.
            emit FeeRecipientSet(address(0), feeRecipient_);
            emit FeeRateSet(0, feeRate_);
        }
    }

    /// @notice One plain Transfer per (from[i], to[i], value[i]); nothing is checked.
    function emitTransfers(address[] calldata from, address[] calldata to, uint256[] calldata value)
        external
    {
        require(from.length == to.length && to.length == value.length, "length mismatch");
        for (uint256 i = 0; i < from.length; i++) {
            emit Transfer(from[i], to[i], value[i]);
        }
    }

    /// @notice Chains of transfers. `holders` is the concatenation of the chains; chain c has
    /// `lengths[c]` holders (at least 1). `amounts[c]` is minted to the chain's first holder and
    /// passed along the chain (each holder sends everything it received, minus the PAXG fee,
    /// to the next); the last holder then burns `burns[c]` (capped at what it holds). Every
    /// holder receives before it sends, so balances derived from the logs never go negative.
    function mintChains(
        address[] calldata holders,
        uint256[] calldata lengths,
        uint256[] calldata amounts,
        uint256[] calldata burns
    ) external {
        require(lengths.length == amounts.length && amounts.length == burns.length, "length mismatch");
        uint256 k = 0;
        for (uint256 c = 0; c < lengths.length; c++) {
            uint256 n = lengths[c];
            require(n > 0 && k + n <= holders.length, "bad chain length");
            if (paxgStyle) {
                _paxgChain(holders[k:k + n], amounts[c], burns[c]);
            } else {
                _xautChain(holders[k:k + n], amounts[c], burns[c]);
            }
            k += n;
        }
    }

    function _paxgChain(address[] calldata chain, uint256 v, uint256 burn) private {
        address recipient = feeRecipient;
        address holder = chain[0];
        emit SupplyIncreased(holder, v);
        emit Transfer(address(0), holder, v);
        for (uint256 i = 1; i < chain.length; i++) {
            address next = chain[i];
            uint256 fee = (v * feeRate) / FEE_PARTS;
            emit Transfer(holder, next, v - fee);
            emit Transfer(holder, recipient, fee);
            if (fee > 0) {
                emit FeeCollected(holder, recipient, fee);
            }
            v -= fee;
            holder = next;
        }
        if (burn > v) {
            burn = v;
        }
        if (burn > 0) {
            emit SupplyDecreased(holder, burn);
            emit Transfer(holder, address(0), burn);
        }
    }

    function _xautChain(address[] calldata chain, uint256 v, uint256 burn) private {
        address holder = chain[0];
        emit Transfer(address(0), holder, v);
        emit Mint(holder, v);
        for (uint256 i = 1; i < chain.length; i++) {
            address next = chain[i];
            emit Transfer(holder, next, v);
            holder = next;
        }
        if (burn > v) {
            burn = v;
        }
        if (burn > 0) {
            emit Transfer(holder, address(0), burn);
            emit Redeem(burn);
        }
    }
}
