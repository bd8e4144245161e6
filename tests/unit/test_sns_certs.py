"""Whether an SNS signing certificate is trusted (worker/web/sns_certs.py): the name SNS signs
with per region (AWS's table, aws-sdk-java-v2 SnsHostProvider), a chain to the trust store
(a throwaway CA hierarchy from tests/snskit.py stands in for Amazon's), validity, and which AIA
URLs may be followed to fetch a missing intermediate."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.x509.verification import Store

from tests.snskit import ISSUER, ROOT, SNS_NAME, make_root, make_signer, self_signed
from worker.config import ConfigError, Settings
from worker.web.sns_certs import Rejected, Trust, load_certificates, signing_name, trust_of

NOW = datetime.now(UTC)
TRUST = Trust(Store([ROOT.cert]), frozenset({ROOT.cert.subject}),
              re.compile(r"^crt\.[a-z0-9-]+\.example$"))


@pytest.mark.parametrize(("host", "name"), [
    ("sns.us-east-1.amazonaws.com", "sns.amazonaws.com"),
    ("sns.eu-west-1.amazonaws.com", "sns.amazonaws.com"),
    ("sns.ap-east-1.amazonaws.com", "sns-signing.ap-east-1.amazonaws.com"),
    ("sns.me-central-1.amazonaws.com", "sns-signing.me-central-1.amazonaws.com"),
    ("sns.us-gov-east-1.amazonaws.com", "sns-us-gov-west-1.amazonaws.com"),
    ("sns.cn-north-1.amazonaws.com.cn", "sns-cn-north-1.amazonaws.com.cn"),
    ("sns.cn-northwest-1.amazonaws.com.cn", "sns-cn-northwest-1.amazonaws.com.cn"),
    ("127.0.0.1", "127.0.0.1"),  # a test host: its certificate names the host itself
])
def test_the_signing_name_follows_the_region_of_the_certificate_url(host, name):
    assert signing_name(host) == name


def test_a_certificate_chaining_to_the_store_through_its_intermediate_is_trusted():
    signer = make_signer()
    TRUST.verify([signer.cert, *signer.chain], SNS_NAME, NOW)
    ip = make_signer(name="127.0.0.1")
    TRUST.verify([ip.cert, *ip.chain], "127.0.0.1", NOW)


def _refused(chain, name=SNS_NAME, now=NOW) -> str:
    with pytest.raises(Rejected) as exc:
        TRUST.verify(chain, name, now)
    assert exc.value.status == 403
    return exc.value.reason


def test_a_certificate_no_trusted_ca_vouches_for_is_refused():
    assert "no chain to a trusted CA" in _refused([self_signed().cert])
    stranger = make_root("someone else's root").intermediate("someone else's CA")
    signer = make_signer(issuer=stranger)
    assert "no chain to a trusted CA" in _refused([signer.cert, *signer.chain])
    signer = make_signer()
    assert "no chain to a trusted CA" in _refused([signer.cert])  # intermediate missing


def test_a_trusted_certificate_for_another_name_is_refused():
    signer = make_signer(name="sns.amazonaws.com.evil.example")
    reason = _refused([signer.cert, *signer.chain])
    assert reason.startswith(f"signing certificate is not trusted for {SNS_NAME}: ")
    assert "subjectAltName" in reason
    other_region = make_signer(name="sns-signing.ap-east-1.amazonaws.com")
    _refused([other_region.cert, *other_region.chain])  # valid there, not for us-east-1


@pytest.mark.parametrize("window", [(-60, -1), (1, 60)], ids=["expired", "not yet valid"])
def test_a_certificate_outside_its_validity_is_refused(window):
    start, end = (NOW + timedelta(days=d) for d in window)
    signer = make_signer(start, end)
    _refused([signer.cert, *signer.chain])
    TRUST.verify([signer.cert, *signer.chain], SNS_NAME, start + timedelta(hours=1))


def test_an_issuer_is_looked_for_only_when_neither_the_pem_nor_the_store_has_it():
    signer = make_signer()
    assert TRUST.needs_issuer([signer.cert])
    assert not TRUST.needs_issuer([signer.cert, *signer.chain])
    assert not TRUST.needs_issuer([make_signer(issuer=ROOT).cert])  # issued by an anchor


@pytest.mark.parametrize(("url", "followed"), [
    ("http://crt.m01.example/m01.cer", True),  # CAs publish them over http: the chain decides
    ("https://crt.m01.example/m01.cer", True),
    ("http://crt.m01.example.evil.com/m01.cer", False),
    ("http://evil.com/crt.m01.example/m01.cer", False),
    ("http://user@crt.m01.example/m01.cer", False),
    ("ftp://crt.m01.example/m01.cer", False),
    ("file:///etc/passwd", False),
])
def test_only_aia_urls_on_an_allowed_issuer_host_are_followed(url, followed):
    signer = make_signer(aia_url=url)
    assert [str(u) for u in TRUST.issuer_urls(signer.cert)] == ([url] if followed else [])
    assert TRUST.issuer_urls(make_signer().cert) == []  # no AIA at all


def test_the_production_trust_is_certifis_bundle_and_amazons_issuer_hosts():
    trust = trust_of(Settings())
    names = {n.rfc4514_string() for n in trust.anchors}
    assert "CN=Amazon Root CA 1,O=Amazon,C=US" in names  # what SNS's certificates chain to
    assert len(names) > 100
    # the AIA host of Amazon's current and earlier intermediates (RSA 2048 M01, Server CA 1B)
    for host in ("crt.r2m01.amazontrust.com", "crt.sca1b.amazontrust.com"):
        assert trust.issuer_host.fullmatch(host)
    for host in ("crt.r2m01.amazontrust.com.evil.com", "amazontrust.com", "evil.com"):
        assert not trust.issuer_host.fullmatch(host)


def test_a_bundle_is_read_certificate_by_certificate(tmp_path):
    path = tmp_path / "bundle.pem"
    garbage = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    path.write_bytes(b"# a comment\n" + ROOT.pem + garbage + ISSUER.pem)
    assert [c.subject for c in load_certificates(path.read_bytes())] == [
        ROOT.cert.subject, ISSUER.cert.subject]  # the unreadable one skipped
    assert trust_of(Settings(sns_ca_bundle=str(path))).anchors == {ROOT.cert.subject,
                                                                   ISSUER.cert.subject}


@pytest.mark.parametrize("content", [None, b"no certificate here"])
def test_an_unusable_bundle_is_a_one_line_configuration_error(tmp_path: Path, content):
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        trust_of(Settings(sns_ca_bundle=str(path)))
    assert "SPSYNC_SNS_CA_BUNDLE" in str(exc.value) and "\n" not in str(exc.value)
