"""A sealed batch is read one way (uploads._sealed_batch): the hub's check of an upload (batch_verify) and
the apply's opening of it (batch_open) accept the same batches and refuse the same changed ones."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.arm.errors import ArmError
from replication import keyvault, uploads

KEY, NONCE = os.urandom(32), os.urandom(12)
HEADER = {"itemId": "i", "diskId": "d", "sequence": 7, "wrappedKey": "w", "nonce": base64.b64encode(NONCE).decode()}
PLAINTEXT = os.urandom(2 * uploads.VERIFY_PIECE_BYTES + 77)
SEALED = AESGCM(KEY).encrypt(NONCE, PLAINTEXT, b"i/d/7")


@pytest.fixture(autouse=True)
def data_key(monkeypatch):
    monkeypatch.setattr(keyvault, "unwrap_key", lambda project, wrapped: KEY)


def flipped(position: int) -> bytes:
    changed = bytearray(SEALED)
    changed[position] ^= 0x80
    return bytes(changed)


def test_both_read_an_intact_batch_and_an_empty_one():
    uploads.batch_verify(None, HEADER, memoryview(SEALED))
    assert uploads.batch_open(None, HEADER, memoryview(SEALED)) == PLAINTEXT
    empty = AESGCM(KEY).encrypt(NONCE, b"", b"i/d/7")
    uploads.batch_verify(None, HEADER, empty)
    assert uploads.batch_open(None, HEADER, empty) == b""


# Named ids: a value's own id would hold random bytes, which differ between xdist's workers' collections.
@pytest.mark.parametrize(
    "header, sealed",
    [
        pytest.param(HEADER, flipped(0), id="first-byte-flipped"),
        pytest.param(HEADER, flipped(uploads.VERIFY_PIECE_BYTES), id="second-piece-flipped"),
        pytest.param(HEADER, flipped(len(SEALED) - 1), id="tag-flipped"),
        pytest.param(HEADER, SEALED[:-1], id="cut-short"),
        pytest.param(HEADER, SEALED[:15], id="shorter-than-a-tag"),
        pytest.param({**HEADER, "sequence": 8}, SEALED, id="another-sequence"),
        pytest.param({**HEADER, "diskId": "e"}, SEALED, id="another-disk"),
        pytest.param({**HEADER, "nonce": base64.b64encode(os.urandom(12)).decode()}, SEALED, id="another-nonce"),
        pytest.param({**HEADER, "nonce": "not base64!"}, SEALED, id="nonce-not-base64"),
        pytest.param({**HEADER, "nonce": ""}, SEALED, id="empty-nonce"),
    ],
)
def test_both_refuse_the_same_batches(header, sealed):
    for read in (uploads.batch_verify, uploads.batch_open):
        with pytest.raises(ArmError) as refused:
            read(None, header, sealed)
        assert refused.value.code == "BatchIntegrityCheckFailed", read.__name__
