// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface FeedAggregator {
    function decimals() external view returns (uint8);
    function description() external view returns (string memory);
    function getRoundData(uint80 roundId)
        external view returns (uint80, int256, uint256, uint256, uint80);
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

/// @title MockFeedProxy
/// @notice Test double of Chainlink's EACAggregatorProxy (AggregatorProxy 0.6): the stable
/// address of a feed in front of a series of aggregators, one per phase. The owner proposes
/// an aggregator and confirms it, which starts the next phase; `phaseAggregators` keeps every
/// phase's. Round ids seen through the proxy are `(phaseId << 64) | aggregatorRoundId`, and
/// getRoundData of an earlier phase's round asks that phase's aggregator. Like the real proxy
/// it emits no logs at all: not per round, not at a phase change.
contract MockFeedProxy {
    uint256 private constant PHASE_OFFSET = 64;

    address public owner;
    uint16 public phaseId;
    mapping(uint16 => address) public phaseAggregators;
    address public proposedAggregator;

    constructor(address aggregator_) {
        owner = msg.sender;
        setAggregator(aggregator_);
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "Only callable by owner");
        _;
    }

    function aggregator() external view returns (address) {
        return phaseAggregators[phaseId];
    }

    function decimals() external view returns (uint8) {
        return FeedAggregator(phaseAggregators[phaseId]).decimals();
    }

    function description() external view returns (string memory) {
        return FeedAggregator(phaseAggregators[phaseId]).description();
    }

    function proposeAggregator(address aggregator_) external onlyOwner {
        proposedAggregator = aggregator_;
    }

    function confirmAggregator(address aggregator_) external onlyOwner {
        require(aggregator_ == proposedAggregator, "Invalid proposed aggregator");
        delete proposedAggregator;
        setAggregator(aggregator_);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt,
                 uint80 answeredInRound)
    {
        uint16 phase = phaseId;
        (roundId, answer, startedAt, updatedAt, answeredInRound) =
            FeedAggregator(phaseAggregators[phase]).latestRoundData();
        return (addPhase(phase, roundId), answer, startedAt, updatedAt,
                addPhase(phase, answeredInRound));
    }

    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt,
                 uint80 answeredInRound)
    {
        uint16 phase = uint16(roundId_ >> PHASE_OFFSET);
        // An unknown phase has no aggregator: the call to the zero address reverts.
        (roundId, answer, startedAt, updatedAt, answeredInRound) =
            FeedAggregator(phaseAggregators[phase]).getRoundData(uint64(roundId_));
        return (addPhase(phase, roundId), answer, startedAt, updatedAt,
                addPhase(phase, answeredInRound));
    }

    function setAggregator(address aggregator_) internal {
        uint16 id = phaseId + 1;
        phaseId = id;
        phaseAggregators[id] = aggregator_;
    }

    function addPhase(uint16 phase, uint80 originalId) internal pure returns (uint80) {
        return uint80(uint256(phase) << PHASE_OFFSET | uint64(originalId));
    }
}
