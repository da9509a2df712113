"""Drive the test contracts on anvil with web3: deploy, script a history, read the truth back."""

from __future__ import annotations

import json
from pathlib import Path

from web3 import Web3

ARTIFACTS = Path(__file__).resolve().parent / "contracts" / "artifacts"


def load_artifact(name: str) -> dict:
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def deploy(w3: Web3, name: str, sender: str, *args):
    """Test contract `name` deployed by `sender` with constructor `args`, as a web3 contract."""
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])


class Chain:
    """PAXG (PaxgLike behind ZosProxy, as on mainnet) and XautLike deployed on one anvil.
    accounts[0] deploys and administers the proxy; [1] is the PAXG supply controller, [2] the
    PAXG fee recipient; [3..9] are users. `deploy_block` is the proxy's block: the tokens' first."""

    def __init__(self, anvil):
        self.anvil = anvil
        self.w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))
        self.accounts = [Web3.to_checksum_address(a) for a in self.w3.eth.accounts]
        self.deployer, self.controller, self.fee_recipient = self.accounts[:3]
        self.users = self.accounts[3:]
        implementation = self._deploy("PaxgLike")
        self.proxy = self._deploy("ZosProxy", implementation.address)
        self.deploy_block = self.w3.eth.block_number
        self.paxg = self.w3.eth.contract(address=self.proxy.address,
                                         abi=load_artifact("PaxgLike")["abi"])
        self.send(self.paxg.functions.initialize(self.controller, self.fee_recipient), self.deployer)
        self.xaut = self._deploy("XautLike")

    def upgrade_paxg(self, name: str):
        """Point the PAXG proxy at a new deployment of implementation `name` (Upgraded log);
        `paxg` then speaks its ABI. Returns the receipt of upgradeTo."""
        implementation = self._deploy(name)
        receipt = self.send(self.proxy.functions.upgradeTo(implementation.address), self.deployer)
        self.paxg = self.w3.eth.contract(address=self.proxy.address, abi=load_artifact(name)["abi"])
        return receipt

    def _deploy(self, name: str, *args):
        return deploy(self.w3, name, self.deployer, *args)

    def send(self, fn, sender: str):
        tx = fn.transact({"from": sender})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1, f"transaction reverted: {fn}"
        return receipt

    def config_toml(self, database_url: str, **sync) -> str:
        sync_lines = "\n".join(f"{k} = {v}" for k, v in {"confirmations": 0, **sync}.items())
        return f"""\
[rpc]
url = "{self.anvil.url}"

[chain]
id = 31337

[sync]
{sync_lines}

[database]
url = "{database_url}"

[tokens.PAXG]
address = "{self.paxg.address}"
start_block = {self.deploy_block}

[tokens.XAUT]
address = "{self.xaut.address}"
start_block = {self.deploy_block}
"""

    def script_history(self) -> None:
        """A small history touching every event kind the scanner stores."""
        p, x, c, u = self.paxg.functions, self.xaut.functions, self.controller, self.users
        self.send(p.increaseSupply(10**21), c)
        self.send(p.transfer(u[0], 4 * 10**20), c)  # fee 0: fee leg of 0 still emitted
        self.send(p.setFeeRate(200), self.deployer)
        self.send(p.transfer(u[1], 10**20), u[0])  # fee 0.02%
        self.send(p.transfer(self.fee_recipient, 10**18), u[0])  # to the fee recipient itself
        self.send(p.batchTransfer([u[2], u[3], u[2]], [10**18, 2 * 10**18, 3]), u[1])
        self.send(p.betaDelegatedTransfer(u[1], u[4], 5 * 10**18, 10**16, u[5]), u[5])
        self.send(p.setFeeRecipient(u[6]), self.deployer)
        self.send(p.transfer(u[0], 10**18), u[1])  # fee now goes to u[6]
        self.send(p.setFeeRate(0), self.deployer)
        self.send(p.betaDelegatedTransfer(u[1], u[4], 10**18, 10**15, u[5]), u[5])
        self.send(p.decreaseSupply(10**20), c)
        self.send(p.freeze(u[3]), self.deployer)
        self.send(p.wipeFrozenAddress(u[3]), self.deployer)
        self.upgrade_paxg("PaxgLike")  # a new V1 implementation: still fee legs
        self.send(x.mint(u[0], 5_000_000_000), self.deployer)
        self.send(x.transfer(u[1], 1_000_000), u[0])
        self.send(x.multiTransfer([u[2], u[3]], [2_000_000, 3_000_000]), u[0])
        self.send(x.redeem(500_000), u[1])
        self.send(x.approve(u[4], 10_000_000), u[0])
        self.send(x.transferFrom(u[0], u[4], 7_000_000), u[4])
        self.send(x.addToBlockedList(u[2]), self.deployer)
        self.send(x.destroyBlockedFunds(u[2]), self.deployer)
        self.send(x.batchMint(u[5], 3, 1_000), self.deployer)

    def script_more(self) -> None:
        """More plain activity, repeatable after script_history (avoids frozen/blocked users)."""
        p, x, c, u = self.paxg.functions, self.xaut.functions, self.controller, self.users
        self.send(p.increaseSupply(10**18), c)
        self.send(p.transfer(u[4], 10**17), c)
        self.send(x.mint(u[5], 1_000_000), self.deployer)
        self.send(x.transfer(u[6], 400_000), u[5])

    def reorg(self, depth: int, salt: int = 0) -> None:
        """Replace the last `depth` blocks with new ones that carry different token activity
        (an XAUT mint and a PAXG mint in each new block)."""
        txs = []
        for offset in range(depth):
            amount = 1_000 + 17 * salt + offset
            for contract, fn, sender in (
                (self.xaut, self.xaut.functions.mint(self.users[offset % 3], amount), self.deployer),
                (self.paxg, self.paxg.functions.increaseSupply(amount), self.controller),
            ):
                tx = {"from": sender, "to": contract.address, "gas": 300_000,
                      "data": fn._encode_transaction_data()}
                txs.append([tx, offset])
        self.anvil.rpc("anvil_reorg", [depth, txs])

    def holders(self) -> list[str]:
        return self.accounts

    def balance_of(self, token: str, holder: str, block: int | str = "latest") -> int:
        contract = self.paxg if token == "PAXG" else self.xaut
        return contract.functions.balanceOf(holder).call(block_identifier=block)

    def total_supply(self, token: str, block: int | str = "latest") -> int:
        contract = self.paxg if token == "PAXG" else self.xaut
        return contract.functions.totalSupply().call(block_identifier=block)


# A proxy round id: the phase in the bits above the aggregator's own round id (FACTS.md).
PHASE_OFFSET = 64


class Feed:
    """A Chainlink-style price feed on `chain`'s anvil, as XAU/USD is on mainnet: MockFeedProxy
    in front of one MockAggregator per phase (phase 1 at the start). `post` adds a round to the
    live aggregator (its logs: NewRound, AnswerUpdated; the proxy logs nothing); `change_phase`
    deploys a new aggregator and points the proxy at it, as Chainlink does (propose, confirm).
    accounts[0] deploys and owns the proxy."""

    def __init__(self, chain: Chain, description: str = "XAU / USD"):
        self.chain = chain
        self.description = description
        self.aggregators = [chain._deploy("MockAggregator", description)]
        self.proxy = chain._deploy("MockFeedProxy", self.aggregators[0].address)
        self.deploy_block = chain.w3.eth.block_number

    @property
    def phase(self) -> int:
        return len(self.aggregators)

    @property
    def aggregator(self):
        """The live phase's aggregator (a web3 contract)."""
        return self.aggregators[-1]

    def post(self, answer: int, updated_at: int):
        """A round on the live aggregator: `answer` with 8 decimals, at `updated_at` (unix
        seconds). Returns the receipt; its proxy round id is `round_id(latest_round)`."""
        return self.chain.send(self.aggregator.functions.post(answer, updated_at),
                               self.chain.deployer)

    def change_phase(self):
        """Deploy a new aggregator and confirm it on the proxy: the next phase, whose rounds
        count from 1 again. Returns the new aggregator."""
        new = self.chain._deploy("MockAggregator", self.description)
        p = self.proxy.functions
        self.chain.send(p.proposeAggregator(new.address), self.chain.deployer)
        self.chain.send(p.confirmAggregator(new.address), self.chain.deployer)
        self.aggregators.append(new)
        return new

    def round_id(self, aggregator_round: int, phase: int | None = None) -> int:
        """The proxy's id of `aggregator_round` of `phase` (the live one by default)."""
        return (self.phase if phase is None else phase) << PHASE_OFFSET | aggregator_round
