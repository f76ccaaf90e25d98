"""hub/tls.py: the local certificate authority is made once and kept, the server certificate follows the
names and its expiry, private keys are the owner's only, and a deployment's own certificate is checked."""

from __future__ import annotations

import datetime
import ipaddress
import stat

import pytest
from cryptography import x509

from hub import tls

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def certified_names(path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(names.get_values_for_type(x509.DNSName)) | {str(a) for a in names.get_values_for_type(x509.IPAddress)}


def test_first_start_makes_an_authority_and_a_server_certificate_it_signs(tmp_path):
    made = tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    assert made.ca_path == tmp_path / "tls" / "ca.pem"
    ca = x509.load_pem_x509_certificate(made.ca_path.read_bytes())
    server = x509.load_pem_x509_certificate(made.cert_path.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certified_names(made.cert_path) == {"127.0.0.1", "localhost", "::1"}


def test_private_keys_are_readable_by_their_owner_only(tmp_path):
    made = tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    for key in (tmp_path / "tls" / "ca-key.pem", made.key_path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(made.ca_path.stat().st_mode) == 0o644  # the authority itself is for everyone to trust


def test_the_authority_and_a_fitting_certificate_are_kept_across_restarts(tmp_path):
    first = tls.local_certificate(tmp_path / "tls", tls.hostnames("hub.contoso.test"), now=NOW)
    ca, cert = first.ca_path.read_bytes(), first.cert_path.read_bytes()
    again = tls.local_certificate(tmp_path / "tls", tls.hostnames("hub.contoso.test"), now=NOW + datetime.timedelta(1))
    assert again.ca_path.read_bytes() == ca
    assert again.cert_path.read_bytes() == cert


def test_the_certificate_is_issued_again_when_the_names_change_by_the_same_authority(tmp_path):
    first = tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    ca, cert = first.ca_path.read_bytes(), first.cert_path.read_bytes()
    again = tls.local_certificate(tmp_path / "tls", tls.hostnames("hub.contoso.test, 10.0.0.5"), now=NOW)
    assert again.ca_path.read_bytes() == ca
    assert again.cert_path.read_bytes() != cert
    assert certified_names(again.cert_path) == {"127.0.0.1", "localhost", "::1", "hub.contoso.test", "10.0.0.5"}
    x509.load_pem_x509_certificate(again.cert_path.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca)
    )


def test_the_certificate_is_issued_again_near_its_end(tmp_path):
    first = tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    cert = first.cert_path.read_bytes()
    ends = x509.load_pem_x509_certificate(cert).not_valid_after_utc
    assert tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=ends - 2 * tls.RENEW_BEFORE)
    assert first.cert_path.read_bytes() == cert
    tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=ends - tls.RENEW_BEFORE / 2)
    renewed = x509.load_pem_x509_certificate(first.cert_path.read_bytes())
    assert renewed.not_valid_after_utc > ends


def test_a_server_key_that_does_not_match_gets_a_new_certificate(tmp_path):
    first = tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    cert = first.cert_path.read_bytes()
    first.key_path.write_bytes(tls._key_pem(tls._new_key()))
    tls.local_certificate(tmp_path / "tls", tls.hostnames(""), now=NOW)
    assert first.cert_path.read_bytes() != cert


def test_hostnames_take_names_and_addresses_and_refuse_anything_else():
    assert tls.hostnames(" Hub.Contoso.test ,[fe80::1], 10.0.0.5,localhost,") == [
        "127.0.0.1",
        "localhost",
        "::1",
        "hub.contoso.test",
        str(ipaddress.ip_address("fe80::1")),
        "10.0.0.5",
    ]
    for bad in ("https://hub.contoso.test", "hub contoso", "a_b.test"):
        with pytest.raises(tls.TlsSetupError, match="HUB_HOSTNAMES"):
            tls.hostnames(bad)


def test_a_deployment_certificate_is_used_as_given_and_makes_no_authority(tmp_path):
    made = tls.local_certificate(tmp_path / "elsewhere", tls.hostnames(""), now=NOW)
    given = tls.configured_certificate(
        tls_dir=tmp_path / "tls", names=[], cert_file=str(made.cert_path), key_file=str(made.key_path)
    )
    assert given == tls.ServerCertificate(made.cert_path, made.key_path, None)
    assert not (tmp_path / "tls").exists()


def test_a_deployment_certificate_must_come_with_its_key_and_load(tmp_path):
    with pytest.raises(tls.TlsSetupError, match="both TLS_CERT_FILE and TLS_KEY_FILE"):
        tls.configured_certificate(tls_dir=tmp_path, names=[], cert_file="/etc/hub.pem", key_file="")
    (tmp_path / "cert.pem").write_text("not a certificate")
    with pytest.raises(tls.TlsSetupError, match="cannot be used"):
        tls.configured_certificate(
            tls_dir=tmp_path, names=[], cert_file=str(tmp_path / "cert.pem"), key_file=str(tmp_path / "cert.pem")
        )
