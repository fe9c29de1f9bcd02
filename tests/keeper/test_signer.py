"""Signing through an Ape keystore account, and the raw key allowed on dev chains only."""

import pytest
from eth_account import Account

from keeper.signer import ApeAccountSigner, SignerError, is_dev_chain, raw_key_signer

KEY = "0x" + "11" * 32
TX = {
    "chainId": 1,
    "nonce": 3,
    "gas": 100_000,
    "maxFeePerGas": 30 * 10**9,
    "maxPriorityFeePerGas": 10**9,
    "to": "0x" + "22" * 20,
    "value": 5,
    "data": "0xabcdef",
    "type": 2,
}


def test_dev_chains_are_told_by_their_client_version():
    assert is_dev_chain("anvil/v1.7.1")
    assert is_dev_chain("HardhatNetwork/2.22.0/@ethereumjs/vm/7.0.0")
    assert not is_dev_chain("Geth/v1.14.0-stable/linux-amd64/go1.22.1")
    assert not is_dev_chain("erigon/2.60.0")


def test_a_raw_key_is_refused_off_a_dev_chain_in_one_line_unless_forced():
    assert raw_key_signer(KEY, "anvil/v1.7.1").address == Account.from_key(KEY).address
    with pytest.raises(SignerError) as err:
        raw_key_signer(KEY, "Geth/v1.14.0-stable")
    msg = str(err.value)
    assert "\n" not in msg and "'Geth'" in msg and "--account" in msg
    assert raw_key_signer(KEY, "Geth/v1.14.0", force=True).address
    with pytest.raises(SignerError, match="not a private key"):
        raw_key_signer("0x1234", "anvil/v1.7.1")


@pytest.fixture(scope="module")
def ape_account():
    """An Ape keystore account in a private, temporary Ape data folder (one per module: Ape
    caches the accounts container's folder for the process)."""
    from ape import accounts
    from ape_accounts import import_account_from_private_key

    with accounts.config_manager.isolate_data_folder():
        import_account_from_private_key("ammlab_test_keeper", "correct horse", KEY)
        yield "ammlab_test_keeper"


def test_an_ape_account_signs_exactly_what_the_key_would(ape_account, monkeypatch):
    monkeypatch.setenv(f"APE_ACCOUNTS_{ape_account}_PASSPHRASE", "correct horse")
    signer = ApeAccountSigner(ape_account)
    want = Account.from_key(KEY).sign_transaction({**TX, "data": bytes.fromhex("abcdef")})
    got = signer.sign_transaction(TX)
    assert signer.address == Account.from_key(KEY).address
    assert got.raw_transaction == bytes(want.raw_transaction)
    assert got.hash == bytes(want.hash)


def test_an_ape_account_without_its_passphrase_or_with_a_wrong_one_is_one_line(
    ape_account, monkeypatch
):
    monkeypatch.delenv(f"APE_ACCOUNTS_{ape_account}_PASSPHRASE", raising=False)
    with pytest.raises(SignerError, match=f"is locked: set APE_ACCOUNTS_{ape_account}_PASSPHRASE"):
        ApeAccountSigner(ape_account)
    monkeypatch.setenv(f"APE_ACCOUNTS_{ape_account}_PASSPHRASE", "wrong")
    with pytest.raises(SignerError, match="passphrase .* is wrong"):
        ApeAccountSigner(ape_account)
    with pytest.raises(SignerError, match="no Ape account 'nobody'"):
        ApeAccountSigner("nobody")
