"""Config: defaults < TOML file < environment < CLI overrides, and one clear ConfigError per mistake."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from indexer.config import (
    ChainConfig,
    DatabaseConfig,
    RpcConfig,
    SyncConfig,
    load_config,
    require_rpc_url,
)
from indexer.errors import ConfigError, IndexerError
from indexer.tokens import MAINNET_TOKENS

REPO = Path(__file__).resolve().parents[2]
PAXG_CHECKSUM = "0x45804880De22913dAFE09f4980848ECE6EcbAf78"
XAUT_CHECKSUM = "0x68749665FF8D2d112Fa859AA293F07A622782F38"
# A devnet address (anvil's first deployment), checksummed and lowercase.
DEV_CHECKSUM = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEV_LOWER = DEV_CHECKSUM.lower()


XAUM = "0x2103E845C5E135493Bb6c2A4f0B8651956eA8682"

# The built-in tokens as a configuration places them: on its first chain.
BUILT_IN = tuple(dataclasses.replace(MAINNET_TOKENS[s], chain="ethereum") for s in ("PAXG", "XAUT"))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def load(tmp_path: Path, text: str, env: dict | None = None, overrides: dict | None = None):
    return load_config(write(tmp_path, text), env=env or {}, overrides=overrides or {})


def config_error(tmp_path: Path, text: str, env: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return str(info.value)


# -- defaults and precedence --------------------------------------------------------------------

def test_empty_file_gives_builtin_defaults(tmp_path):
    path = write(tmp_path, "")
    config = load_config(path, env={}, overrides={})
    assert config.rpc == RpcConfig(url=None, timeout=30.0, max_attempts=8)
    assert config.chain == ChainConfig(id=1, name="ethereum")
    assert config.sync == SyncConfig(
        confirmations=12, poll_interval=12.0, batch_blocks=100, min_batch_blocks=1,
        max_batch_blocks=100_000, target_logs=10_000, header_batch=250,
    )
    assert config.database == DatabaseConfig(url=None)
    assert config.tokens == tuple(dataclasses.replace(MAINNET_TOKENS[s], chain="ethereum")
                                  for s in ("PAXG", "XAUT"))
    assert config.enabled_tokens == config.tokens
    assert config.source == path


def test_no_file_anywhere_gives_builtin_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INDEXER_CONFIG", raising=False)
    config = load_config(None, env={}, overrides={})
    assert config.source == "built-in defaults"
    assert config.sync == SyncConfig()
    assert config.tokens == BUILT_IN


def test_file_values_replace_defaults(tmp_path):
    config = load(tmp_path, """
[rpc]
url = "https://rpc.example/KEY"
timeout = 5
max_attempts = 3
[chain]
id = 31337
[sync]
confirmations = 0
poll_interval = 0.5
batch_blocks = 10
min_batch_blocks = 2
max_batch_blocks = 20
target_logs = 100
header_batch = 7
[database]
url = "postgresql://u:p@localhost:5432/gold"
[tokens.PAXG]
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
start_block = 5
decimals = 18
[tokens.XAUT]
enabled = false
""")
    assert config.rpc == RpcConfig(url="https://rpc.example/KEY", timeout=5.0, max_attempts=3)
    assert isinstance(config.rpc.timeout, float)
    assert config.chain == ChainConfig(id=31337, name="chain31337")
    assert config.sync == SyncConfig(
        confirmations=0, poll_interval=0.5, batch_blocks=10, min_batch_blocks=2,
        max_batch_blocks=20, target_logs=100, header_batch=7,
    )
    assert config.database == DatabaseConfig(url="postgresql://u:p@localhost:5432/gold")
    paxg, xaut = config.tokens
    assert (paxg.symbol, paxg.address, paxg.start_block, paxg.decimals, paxg.enabled) == (
        "PAXG", DEV_LOWER, 5, 18, True)
    assert paxg.events == MAINNET_TOKENS["PAXG"].events
    assert (xaut.symbol, xaut.enabled) == ("XAUT", False)
    assert config.enabled_tokens == (paxg,)


def test_environment_overrides_file(tmp_path):
    config = load(tmp_path, """
[rpc]
url = "https://file.example/"
[sync]
confirmations = 3
[tokens.XAUT]
start_block = 100
""", env={
        "INDEXER_RPC_URL": "https://env.example/",
        "INDEXER_SYNC_CONFIRMATIONS": "7",
        "INDEXER_TOKENS_XAUT_START_BLOCK": "200",
    })
    assert config.rpc.url == "https://env.example/"
    assert config.sync.confirmations == 7
    assert config.tokens[1].start_block == 200
    assert config.tokens[0].start_block == 8_426_430


def test_environment_parses_floats_and_booleans(tmp_path):
    config = load(tmp_path, "", env={
        "INDEXER_SYNC_POLL_INTERVAL": "1.5",
        "INDEXER_TOKENS_PAXG_ENABLED": "false",
        "INDEXER_TOKENS_XAUT_ENABLED": "YES",
    })
    assert config.sync.poll_interval == 1.5
    assert [t.enabled for t in config.tokens] == [False, True]


def test_empty_environment_variable_is_ignored(tmp_path):
    config = load(tmp_path, "[sync]\nconfirmations = 3\n", env={"INDEXER_SYNC_CONFIRMATIONS": ""})
    assert config.sync.confirmations == 3


def test_cli_overrides_beat_environment_and_file(tmp_path):
    config = load(
        tmp_path,
        '[rpc]\nurl = "https://file.example/"\n[database]\nurl = "postgresql://file/db"\n',
        env={"INDEXER_RPC_URL": "https://env.example/", "INDEXER_DATABASE_URL": "postgresql://env/db"},
        overrides={"rpc.url": "https://flag.example/", "database.url": "postgresql://flag/db"},
    )
    assert config.rpc.url == "https://flag.example/"
    assert config.database.url == "postgresql://flag/db"


def test_cli_override_of_none_leaves_environment_value(tmp_path):
    config = load(tmp_path, "", env={"INDEXER_RPC_URL": "https://env.example/"},
                  overrides={"rpc.url": None, "database.url": None})
    assert config.rpc.url == "https://env.example/"
    assert config.database.url is None


def test_shipped_example_config_is_valid():
    config = load_config(str(REPO / "config.example.toml"), env={}, overrides={})
    assert config.sync == SyncConfig()
    assert config.enabled_tokens == BUILT_IN


def test_the_example_configs_commented_chains_are_valid_once_uncommented(tmp_path):
    text = (REPO / "config.example.toml").read_text()
    start = text.index("# [chains.arbitrum]")
    body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                     for line in text[start:].splitlines()
                     if not line.startswith(("# The mixed-case", "# digits are")))
    config = load_config(write(tmp_path, text[:start] + body), env={}, overrides={})
    assert [(c.name, c.id) for c in config.chains] == [
        ("ethereum", 1), ("arbitrum", 42161), ("polygon", 137), ("avalanche", 43114),
        ("plasma", 9745), ("hyperevm", 999), ("ink", 57073), ("celo", 42220)]
    assert all(t.kind == "oft" and t.oft for t in config.all_tokens if t.chain != "ethereum")
    polygon = config.for_chain("polygon")
    assert [(t.symbol, t.chain, t.start_block) for t in polygon.tokens] == [
        ("XAUt0_polygon", "polygon", 0)]
    assert polygon.rpc.url == "https://polygon.example/KEY" and polygon.feeds == {}


def test_a_chain_is_configured_with_its_own_rpc_and_confirmations(tmp_path):
    config = load_config(write(tmp_path, f"""
[rpc]
url = "http://first:8545"
[sync]
confirmations = 12
[chains.arb]
id = 42161
confirmations = 3
[chains.arb.rpc]
url = "http://arb:8545"
fallback_urls = ["http://arb2:8545"]
[tokens.XAUt0]
chain = "arb"
kind = "erc20"
address = "{XAUM}"
start_block = 7
"""), env={"INDEXER_CHAINS_ARB_RPC_TIMEOUT": "9"}, overrides={})
    assert [t.symbol for t in config.tokens] == ["PAXG", "XAUT"]  # the first chain's
    arb = config.for_chain("ARB")
    assert (arb.chain.id, arb.chain.name, arb.rpc.url, arb.rpc.fallback_urls, arb.rpc.timeout,
            arb.sync.confirmations) == (42161, "arb", "http://arb:8545", ("http://arb2:8545",),
                                        9.0, 3)
    assert [t.symbol for t in arb.tokens] == ["XAUt0"] and arb.feeds == {}
    assert config.for_chain("ethereum").sync.confirmations == 12


@pytest.mark.parametrize("text, message", [
    ("[chains.arb]\nconfirmations = 1\n", "chains.arb.id is missing: the chain id its RPC serves "
     "(42161 for Arbitrum One, for example)"),
    ("[chains.arb]\nid = 1\n", "chains.arb: chain id 1 is already [chain] (its RPC goes in [rpc])"),
    ("[chains.ethereum]\nid = 5\n", "chains.ethereum: the name is taken by [chain]"),
    ("[chains.arb]\nid = 5\nrpc = 3\n", "chains.arb.rpc must be a table: write [chains.arb.rpc] "
     "and its url below it"),
    ("[chains.arb]\nid = 5\n[chains.arb.rpc]\nurl = \"ftp://x\"\n",
     "chains.arb.rpc.url must start with http:// or https://, got ftp:…"),
    ("[chains.arb]\nid = 5\n[chains.arb.rpc]\nurll = 1\n", "unknown key chains.arb.rpc.urll"),
    (f'[tokens.G]\nchain = "nowhere"\nkind = "erc20"\naddress = "{XAUM}"\nstart_block = 1\n',
     "tokens.G.chain = 'nowhere' names no chain: the configured chains are ethereum (add "
     "[chains.nowhere])"),
    ('[chains.arb]\nid = 5\n[tokens.PAXG]\nchain = "arb"\n',
     "tokens.PAXG is the built-in PAXG of [chain]: give another name to a token on arb"),
])
def test_a_bad_chain_is_refused_with_one_line(tmp_path, text, message):
    assert config_error(tmp_path, text).startswith(message)


def test_a_chain_without_an_rpc_url_is_refused_when_synced(tmp_path):
    config = load_config(write(tmp_path, "[chains.arb]\nid = 5\n"), env={}, overrides={})
    with pytest.raises(ConfigError, match=r"^no RPC URL for chain arb: set url in "
                                          r"\[chains.arb.rpc\] or INDEXER_CHAINS_ARB_RPC_URL$"):
        require_rpc_url(config.for_chain("arb"))
    with pytest.raises(ConfigError, match="^no chain named 'bsc': the configured chains are "
                                          "ethereum, arb$"):
        config.for_chain("bsc")


# -- pricing and budgets ------------------------------------------------------------------------

def test_pricing_budget_and_costs_from_the_file(tmp_path):
    config = load(tmp_path, """
[rpc]
pricing = "alchemy"
max_credits_per_second = 10000
method_costs = { eth_getLogs = 75, default = 20 }
quota_retry_minutes = 2.5
""")
    assert (config.rpc.pricing, config.rpc.max_credits_per_second) == ("alchemy", 10_000.0)
    assert config.rpc.method_costs == (("default", 20.0), ("eth_getLogs", 75.0))
    assert config.rpc.quota_retry_minutes == 2.5


def test_method_costs_from_the_environment(tmp_path):
    config = load(tmp_path, "", env={"INDEXER_RPC_METHOD_COSTS": "eth_getLogs=255, default=80",
                                     "INDEXER_RPC_PRICING": "infura"})
    assert config.rpc.method_costs == (("default", 80.0), ("eth_getLogs", 255.0))
    assert config.rpc.pricing == "infura"
    assert "INDEXER_RPC_METHOD_COSTS must look like 'eth_getLogs=255,default=80'" in \
        config_error(tmp_path, "", env={"INDEXER_RPC_METHOD_COSTS": "eth_getLogs"})


def test_unknown_pricing_names_the_presets(tmp_path):
    assert config_error(tmp_path, '[rpc]\npricing = "infuria"\n') == (
        "rpc.pricing = 'infuria' is not a known price list: use one of 'none', 'infura', "
        "'alchemy', 'quicknode'")


@pytest.mark.parametrize("text,message", [
    ("max_credits_per_second = -1", "rpc.max_credits_per_second must be 0 (the pricing's default) or more"),
    ("method_costs = { eth_call = -3 }", "rpc.method_costs.eth_call must be 0 or more, got -3.0"),
    ('method_costs = { eth_call = "80" }', "rpc.method_costs must be a table of numbers"),
    ("quota_retry_minutes = 0", "rpc.quota_retry_minutes must be a positive number of minutes"),
])
def test_bad_pricing_values_name_the_key(tmp_path, text, message):
    assert config_error(tmp_path, f"[rpc]\n{text}\n").startswith(message)


# -- addresses ----------------------------------------------------------------------------------

def test_lowercase_address_is_accepted_and_stored_lowercase(tmp_path):
    config = load(tmp_path, f'[tokens.XAUT]\naddress = "{DEV_LOWER}"\n')
    assert config.tokens[1].address == DEV_LOWER


def test_checksummed_address_is_accepted_and_stored_lowercase(tmp_path):
    config = load(tmp_path, f'[tokens.PAXG]\naddress = "{PAXG_CHECKSUM}"\n')
    assert config.tokens[0].address == "0x45804880de22913dafe09f4980848ece6ecbaf78"


def test_address_from_environment_is_checked_and_lowercased(tmp_path):
    config = load(tmp_path, "", env={"INDEXER_TOKENS_XAUT_ADDRESS": DEV_CHECKSUM})
    assert config.tokens[1].address == DEV_LOWER


def test_bad_eip55_checksum_names_the_key(tmp_path):
    bad = "0x45804880De22913dAFE09f4980848ECE6EcbAf79"  # last digit changed, case kept
    message = config_error(tmp_path, f'[tokens.PAXG]\naddress = "{bad}"\n')
    assert message == (
        f"tokens.PAXG.address = '{bad}' has a bad EIP-55 checksum: copy the address again, "
        "or write it all in lowercase"
    )


def test_non_hex_address_names_the_key(tmp_path):
    bad = "0xZZ804880de22913dafe09f4980848ece6ecbaf78"
    message = config_error(tmp_path, f'[tokens.XAUT]\naddress = "{bad}"\n')
    assert message == f"tokens.XAUT.address = '{bad}' is not a 20-byte 0x-hex address"


def test_short_address_names_the_key(tmp_path):
    message = config_error(tmp_path, '[tokens.XAUT]\naddress = "0x1234"\n')
    assert message == "tokens.XAUT.address = '0x1234' is not a 20-byte 0x-hex address"


def test_address_without_0x_prefix_is_refused(tmp_path):
    message = config_error(tmp_path, f'[tokens.PAXG]\naddress = "{DEV_LOWER[2:]}"\n')
    assert message == f"tokens.PAXG.address = '{DEV_LOWER[2:]}' is not a 20-byte 0x-hex address"


def test_two_enabled_tokens_with_one_address_are_refused(tmp_path):
    message = config_error(tmp_path, f'[tokens.XAUT]\naddress = "{PAXG_CHECKSUM}"\n')
    assert message == "two enabled tokens share one address: check [tokens.*] address"


def test_two_tokens_with_one_address_are_accepted_when_one_is_disabled(tmp_path):
    config = load(tmp_path, f'[tokens.XAUT]\naddress = "{PAXG_CHECKSUM}"\nenabled = false\n')
    assert [t.symbol for t in config.enabled_tokens] == ["PAXG"]


# -- each class of mistake ----------------------------------------------------------------------

def test_unknown_section_names_it(tmp_path):
    path = write(tmp_path, "[rcp]\nurl = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, overrides={})
    assert str(info.value) == (
        f"unknown section [rcp] in {path}: valid sections are rpc, chain, sync, database, metrics, prices, audit, tokens, chains"
    )


def test_unknown_key_names_it(tmp_path):
    path = write(tmp_path, "[sync]\nconfirmation = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, overrides={})
    # The key list follows SyncConfig's fields, which grow as settings are added.
    keys = [f.name for f in dataclasses.fields(SyncConfig)]
    assert keys[:7] == ["confirmations", "poll_interval", "batch_blocks", "min_batch_blocks",
                        "max_batch_blocks", "target_logs", "header_batch"]
    assert str(info.value) == (
        f"unknown key sync.confirmation in {path}: valid keys are {', '.join(keys)}"
    )


def test_unknown_token_key_names_it(tmp_path):
    path = write(tmp_path, "[tokens.PAXG]\nstart = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, overrides={})
    assert str(info.value) == (
        f"unknown key tokens.PAXG.start in {path}: valid keys are address, start_block, "
        "decimals, enabled, kind, chain, oft"
    )


def test_a_token_not_built_in_needs_its_kind_address_and_first_block(tmp_path):
    message = config_error(tmp_path, "[tokens.USDT]\nenabled = true\n")
    assert message == ("tokens.USDT is not a built-in token (those are PAXG, XAUT): add it with "
                       "kind, address, start_block (kind: one of paxg, xaut, erc20, oft)")


def test_a_token_is_added_by_configuration(tmp_path):
    path = write(tmp_path, f'[tokens.XAUm]\nkind = "erc20"\naddress = "{XAUM}"\n'
                           'start_block = 100\n[tokens.PAXG2]\nkind = "paxg"\n'
                           f'address = "0x{"ab" * 20}"\nstart_block = 5\ndecimals = 18\n')
    config = load_config(path, env={}, overrides={})
    assert [t.symbol for t in config.tokens] == ["PAXG", "XAUT", "XAUm", "PAXG2"]
    xaum, paxg2 = config.tokens[2:]
    assert (xaum.address, xaum.start_block, xaum.decimals) == (XAUM.lower(), 100, None)  # decimals: read from the contract by the sync
    assert [e.name for e in xaum.events] == ["Transfer"] and not xaum.fee_legs
    assert paxg2.events == MAINNET_TOKENS["PAXG"].events and paxg2.fee_legs
    assert paxg2.implementation_slot == MAINNET_TOKENS["PAXG"].implementation_slot


@pytest.mark.parametrize("text, message", [
    ('[tokens.XAUm]\nkind = "gold"\n', "tokens.XAUm.kind must be one of paxg, xaut, erc20, oft, got 'gold'"),
    ('[tokens.XAUt0]\nkind = "oft"\n', "tokens.XAUt0.kind = oft needs tokens.XAUt0.oft: the "
     "address of its OFT contract (the one that emits OFTSent and OFTReceived)"),
    ('[tokens.PAXG]\nkind = "erc20"\n', "tokens.PAXG is the built-in PAXG, of kind paxg: give "
     "another name to a token of kind erc20"),
    ('[tokens.1GOLD]\nkind = "erc20"\n', "tokens.1GOLD: a token's name is a letter then up to 19 "
     "letters, digits or _"),
    (f'[tokens.paxg]\nkind = "erc20"\naddress = "{XAUM}"\nstart_block = 1\n',
     "two tokens' names differ only in case: rename one of [tokens.*]"),
    (f'[tokens.XAUm]\nkind = "erc20"\naddress = "{XAUM}"\nstart_block = 1\ndecimals = 78\n',
     "tokens.XAUm.decimals must be between 0 and 77, got 78"),
])
def test_a_bad_added_token_is_refused_with_one_line(tmp_path, text, message):
    assert config_error(tmp_path, text) == message


def test_section_that_is_not_a_table_names_it(tmp_path):
    message = config_error(tmp_path, "sync = 3\n")
    assert message == "sync must be a table: write [sync] and its keys below it"


def test_tokens_that_is_not_a_table_is_refused(tmp_path):
    message = config_error(tmp_path, "tokens = 3\n")
    assert message == "tokens must be a table, e.g. [tokens.PAXG]"


def test_wrong_type_in_file_names_the_key(tmp_path):
    message = config_error(tmp_path, '[sync]\nconfirmations = "12"\n')
    assert message == "sync.confirmations must be an integer, got str '12'"


def test_boolean_for_integer_in_file_is_refused(tmp_path):
    message = config_error(tmp_path, "[rpc]\nmax_attempts = true\n")
    assert message == "rpc.max_attempts must be an integer, got bool True"


def test_wrong_type_of_token_key_in_file_names_the_key(tmp_path):
    message = config_error(tmp_path, '[tokens.XAUT]\nenabled = "no"\n')
    assert message == "tokens.XAUT.enabled must be true or false, got str 'no'"


def test_wrong_type_in_environment_names_the_variable(tmp_path):
    message = config_error(tmp_path, "", env={"INDEXER_SYNC_CONFIRMATIONS": "twelve"})
    assert message == (
        "INDEXER_SYNC_CONFIRMATIONS must be an integer, got 'twelve' from the environment"
    )


def test_bad_boolean_in_environment_names_the_variable(tmp_path):
    message = config_error(tmp_path, "", env={"INDEXER_TOKENS_PAXG_ENABLED": "maybe"})
    assert message == (
        "INDEXER_TOKENS_PAXG_ENABLED must be true or false, got 'maybe' from the environment"
    )


def test_bad_token_start_block_in_environment_names_the_variable(tmp_path):
    message = config_error(tmp_path, "", env={"INDEXER_TOKENS_XAUT_START_BLOCK": "0x10"})
    assert message == (
        "INDEXER_TOKENS_XAUT_START_BLOCK must be an integer, got '0x10' from the environment"
    )


def test_bad_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[rpc\nurl = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, overrides={})
    assert str(info.value) == (
        f"config file {path} is not valid TOML: "
        "Expected ']' at the end of a table declaration (at line 1, column 5)"
    )


def test_missing_file_names_it(tmp_path):
    path = str(tmp_path / "nope.toml")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, overrides={})
    assert str(info.value) == f"config file {path} not found: check --config or $INDEXER_CONFIG"


def test_rpc_url_without_http_scheme_is_refused(tmp_path):
    message = config_error(tmp_path, '[rpc]\nurl = "wss://node.example/KEY"\n')
    assert message == "rpc.url must start with http:// or https://, got wss:…"


def test_database_url_without_postgresql_scheme_is_refused(tmp_path):
    message = config_error(tmp_path, '[database]\nurl = "mysql://x/y"\n')
    assert message == "database.url must be a postgresql:// URL"


def test_batch_sizes_out_of_order_are_refused(tmp_path):
    message = config_error(tmp_path, "[sync]\nbatch_blocks = 10\nmax_batch_blocks = 5\n")
    assert message == (
        "sync batch sizes must satisfy 1 <= min_batch_blocks <= batch_blocks <= max_batch_blocks"
    )


def test_negative_confirmations_are_refused(tmp_path):
    message = config_error(tmp_path, "[sync]\nconfirmations = -1\n")
    assert message == "sync.confirmations must be 0 or more"


def test_zero_timeout_is_refused(tmp_path):
    message = config_error(tmp_path, "[rpc]\ntimeout = 0\n")
    assert message == "rpc.timeout must be a positive number of seconds"


def test_nan_timeout_is_refused(tmp_path):
    message = config_error(tmp_path, "[rpc]\ntimeout = nan\n")
    assert message == "rpc.timeout must be a positive number of seconds"


def test_negative_token_start_block_is_refused(tmp_path):
    message = config_error(tmp_path, "[tokens.PAXG]\nstart_block = -1\n")
    assert message == "tokens.PAXG.start_block must be 0 or more, got -1"


def test_token_decimals_above_77_are_refused(tmp_path):
    message = config_error(tmp_path, "[tokens.XAUT]\ndecimals = 78\n")
    assert message == "tokens.XAUT.decimals must be between 0 and 77, got 78"


def test_all_tokens_disabled_is_refused(tmp_path):
    message = config_error(tmp_path, "", env={
        "INDEXER_TOKENS_PAXG_ENABLED": "0", "INDEXER_TOKENS_XAUT_ENABLED": "off"})
    assert message == "every token is disabled: enable at least one under [tokens.*]"


def test_config_error_exits_with_code_2(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[nope]\n")
    assert isinstance(info.value, IndexerError)
    assert info.value.exit_code == 2
    assert ConfigError.exit_code == 2


# -- require_rpc_url ----------------------------------------------------------------------------

def test_require_rpc_url_without_url_tells_where_to_set_it(tmp_path):
    config = load(tmp_path, "")
    with pytest.raises(ConfigError) as info:
        require_rpc_url(config)
    assert str(info.value) == (
        "no RPC URL: set [rpc] url in the config, INDEXER_RPC_URL, or --rpc-url"
    )
    assert info.value.exit_code == 2


def test_require_rpc_url_returns_the_configured_url(tmp_path):
    config = load(tmp_path, "", env={"INDEXER_RPC_URL": "http://127.0.0.1:8545"})
    assert require_rpc_url(config) == "http://127.0.0.1:8545"
