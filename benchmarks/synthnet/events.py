"""The two tokens' contracts as the synthetic chain knows them: addresses, start blocks, and
every log kind it emits with its topic0 and layout (../../../shared/FACTS.md).

The facts are restated here from FACTS.md, not imported from the indexer's registry: the
benchmark must not inherit a mistake of the code it measures. Topic0s are computed from the
canonical signatures.

A log is stored as a small record (kind, a, b, amount, extra); `KINDS[kind]` says which token
emits it and how a, b and amount become topics and data.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

PAXG_ADDRESS = "0x45804880de22913dafe09f4980848ece6ecbaf78"
XAUT_ADDRESS = "0x68749665ff8d2d112fa859aa293f07a622782f38"
PAXG_START = 8_426_430
XAUT_START = 13_524_498
TOKENS = ("PAXG", "XAUT")
TOKEN_ADDRESSES = (PAXG_ADDRESS, XAUT_ADDRESS)
DECIMALS = (18, 6)
XAUT_TREASURY = "0x5754284f345afc66a98fbb0a0afe71e0f007b949"
PAXG_FEE_RATE = 200  # parts per million until Paxos set it to zero (after April 2024)
FEE_PARTS = 1_000_000
FEE_ZERO_BLOCK = 19_780_000  # early May 2024: where our FeeRateSet(200, 0) sits

# Address ids with a fixed role; holders follow from FIRST_HOLDER on.
ZERO, PAXG_CONTRACT, XAUT_CONTRACT, SUPPLY_CONTROLLER, FEE_RECIPIENT, TREASURY, RELAYER, \
    PAXG_IMPL, XAUT_IMPL, XAUT_OWNER, XAUT_ADMIN, SPENDER = range(12)
FIRST_HOLDER = 16
FIXED_ADDRESSES = {ZERO: "0x" + "00" * 20, PAXG_CONTRACT: PAXG_ADDRESS, XAUT_CONTRACT: XAUT_ADDRESS,
                   TREASURY: XAUT_TREASURY}


def topic0(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


# Layouts: which of a, b, amount (and extra) go to topics and data.
AB_AMOUNT = "ab_amount"      # topics [t0, a, b], data amount        (Transfer, FeeCollected, Approval)
A_AMOUNT = "a_amount"        # topics [t0, a], data amount           (SupplyIncreased, Mint, ...)
AMOUNT = "amount"            # topics [t0], data amount              (Redeem)
A = "a"                      # topics [t0, a], no data               (AddressFrozen, Upgraded on XAUT)
AB = "ab"                    # topics [t0, a, b], no data            (FeeRecipientSet, OwnershipTransferred)
NUMBERS = "numbers"          # topics [t0, word(a), word(b)]         (FeeRateSet: both values indexed)
DATA_A = "data_a"            # topics [t0], data address a           (Upgraded on PAXG's proxy)
DATA_AB = "data_ab"          # topics [t0], data addresses a, b      (AdminChanged)
BETA = "beta"                # topics [t0, a, b], data amount, seq, service fee


@dataclass(frozen=True, slots=True)
class Kind:
    code: int
    token: int  # 0 PAXG, 1 XAUT
    name: str
    signature: str
    layout: str
    moves_balance: bool = False  # a Transfer: the only logs balances and supply come from

    @property
    def topic0(self) -> str:
        return topic0(self.signature)


_KINDS = (
    Kind(1, 0, "Transfer", "Transfer(address,address,uint256)", AB_AMOUNT, True),
    Kind(2, 0, "SupplyIncreased", "SupplyIncreased(address,uint256)", A_AMOUNT),
    Kind(3, 0, "SupplyDecreased", "SupplyDecreased(address,uint256)", A_AMOUNT),
    Kind(4, 0, "FeeCollected", "FeeCollected(address,address,uint256)", AB_AMOUNT),
    Kind(5, 0, "FeeRateSet", "FeeRateSet(uint256,uint256)", NUMBERS),
    Kind(6, 0, "FeeRecipientSet", "FeeRecipientSet(address,address)", AB),
    Kind(7, 0, "FrozenAddressWiped", "FrozenAddressWiped(address)", A),
    Kind(8, 0, "AddressFrozen", "AddressFrozen(address)", A),
    Kind(9, 0, "AddressUnfrozen", "AddressUnfrozen(address)", A),
    Kind(10, 0, "SupplyControllerSet", "SupplyControllerSet(address,address)", AB),
    Kind(11, 0, "BetaDelegatedTransfer",
         "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)", BETA),
    Kind(12, 0, "Upgraded", "Upgraded(address)", DATA_A),
    Kind(20, 1, "Transfer", "Transfer(address,address,uint256)", AB_AMOUNT, True),
    Kind(21, 1, "Mint", "Mint(address,uint256)", A_AMOUNT),
    Kind(22, 1, "Redeem", "Redeem(uint256)", AMOUNT),
    Kind(23, 1, "DestroyedBlockedFunds", "DestroyedBlockedFunds(address,uint256)", A_AMOUNT),
    Kind(24, 1, "BlockPlaced", "BlockPlaced(address)", A),
    Kind(25, 1, "BlockReleased", "BlockReleased(address)", A),
    Kind(26, 1, "Upgraded", "Upgraded(address)", A),
    # Emitted on chain but not asked for by a scanner that filters on the events it stores:
    # they test that the node applies the topic filter (and providers count only matches).
    Kind(27, 1, "Approval", "Approval(address,address,uint256)", AB_AMOUNT),
    Kind(28, 1, "OwnershipTransferred", "OwnershipTransferred(address,address)", AB),
    Kind(29, 1, "AdminChanged", "AdminChanged(address,address)", DATA_AB),
)
KINDS: dict[int, Kind] = {k.code: k for k in _KINDS}
BY_NAME = {(k.token, k.name): k.code for k in _KINDS}
P_TRANSFER, P_SUPPLY_INCREASED, P_SUPPLY_DECREASED, P_FEE_COLLECTED, P_FEE_RATE_SET, \
    P_FEE_RECIPIENT_SET, P_FROZEN_WIPED, P_ADDRESS_FROZEN, P_ADDRESS_UNFROZEN, \
    P_SUPPLY_CONTROLLER_SET, P_BETA, P_UPGRADED = range(1, 13)
X_TRANSFER, X_MINT, X_REDEEM, X_DESTROYED, X_BLOCK_PLACED, X_BLOCK_RELEASED, X_UPGRADED, \
    X_APPROVAL, X_OWNERSHIP, X_ADMIN = range(20, 30)
TRANSFER_KINDS = (P_TRANSFER, X_TRANSFER)
# The events an ERC-20 scanner of these tokens stores (all but the three audit-only ones
# above); the floor and the expected counts are over these.
SCANNED = frozenset(k.code for k in _KINDS if k.code not in (X_APPROVAL, X_OWNERSHIP, X_ADMIN))
TOPIC0 = {k.code: k.topic0 for k in _KINDS}
