"""Each alembic revision runs its own SQL and code: the living files (indexer/, sql/derived_*.sql,
sql/address_indexes.sql) change with the code of their day, and an upgrade or downgrade through
an old revision must not change with them."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest
from eth_utils import event_signature_to_log_topic

from tests.conftest import REPO

REVISIONS = sorted((REPO / "alembic" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def load_revision(path: Path):
    spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.stem)
def test_revision_imports_no_indexer_code_and_reads_only_revision_sql(path):
    tree = ast.parse(path.read_text())
    number = path.name[:4]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "indexer" for a in node.names), ast.unparse(node)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "indexer", ast.unparse(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.endswith(".sql"):
            # A revision's own file, or an earlier revision's (those never change either).
            assert re.fullmatch(r"\d{4}_\w+\.sql", node.value), node.value
            assert node.value[:4] <= number, node.value
            assert (REPO / "sql" / node.value).is_file(), node.value


# Every event revision 0006 stores without its raw topics and data, by canonical signature.
SIGNATURES = {
    "Transfer": "Transfer(address,address,uint256)",
    "SupplyIncreased": "SupplyIncreased(address,uint256)",
    "SupplyDecreased": "SupplyDecreased(address,uint256)",
    "FeeCollected": "FeeCollected(address,address,uint256)",
    "FeeRateSet": "FeeRateSet(uint256,uint256)",
    "FeeRecipientSet": "FeeRecipientSet(address,address)",
    "FrozenAddressWiped": "FrozenAddressWiped(address)",
    "AddressFrozen": "AddressFrozen(address)",
    "AddressUnfrozen": "AddressUnfrozen(address)",
    "SupplyControllerSet": "SupplyControllerSet(address,address)",
    "BetaDelegatedTransfer": "BetaDelegatedTransfer(address,address,uint256,uint256,uint256)",
    "FreezeAddress": "FreezeAddress(address)",
    "UnfreezeAddress": "UnfreezeAddress(address)",
    "Mint": "Mint(address,uint256)",
    "Redeem": "Redeem(uint256)",
    "DestroyedBlockedFunds": "DestroyedBlockedFunds(address,uint256)",
    "BlockPlaced": "BlockPlaced(address)",
    "BlockReleased": "BlockReleased(address)",
}


def test_revision_0006_knows_each_lean_event_by_its_signature_hash_and_field_count():
    lean = load_revision(REPO / "alembic" / "versions" / "0006_lean_logs.py").LEAN_EVENTS
    assert set(lean) == {"PAXG", "XAUT"}
    for token, events in lean.items():
        for name, (topic0, in_topics, in_data) in events.items():
            signature = SIGNATURES[name]
            assert topic0 == "0x" + event_signature_to_log_topic(signature).hex(), (token, name)
            assert len(in_topics) + len(in_data) == signature.count(",") + 1, (token, name)
