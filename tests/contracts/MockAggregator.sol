// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title MockAggregator
/// @notice Test double of a Chainlink price-feed aggregator (an OCR aggregator, as behind
/// XAU/USD's proxy on mainnet). Each `post` is one round: the round id counts up from 1 and the
/// round is logged the way mainnet aggregators log a transmission for legacy consumers,
/// NewRound then AnswerUpdated, and nothing else (no NewTransmission: nothing here reads it).
/// The test chooses the round's time (`updatedAt`, also its `startedAt`) so a script can lay
/// out days and weekends without waiting for them. Like OCR aggregators, a round never posted
/// reads as zeros rather than reverting. No access control: any caller may post.
contract MockAggregator {
    uint8 public constant decimals = 8;
    string public description;
    uint80 public latestRound;

    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    mapping(uint80 => Round) private rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    constructor(string memory description_) {
        description = description_;
    }

    /// @notice A new round with `answer` (8 decimals) at `updatedAt` (unix seconds).
    function post(int256 answer, uint256 updatedAt) external returns (uint80 roundId) {
        roundId = ++latestRound;
        rounds[roundId] = Round(answer, updatedAt);
        // OCR aggregators: nobody "starts" a round, so startedBy is the zero address.
        emit NewRound(roundId, address(0), updatedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80)
    {
        Round memory r = rounds[roundId];
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    function latestRoundData()
        external
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        return getRoundData(latestRound);
    }
}
