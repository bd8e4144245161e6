"""The SNS signing certificate: fetched once per URL, trusted only once it chains to a CA.

AWS's newest validator (aws-sdk-java-v2, ``sns-message-manager``) takes the certificate from
the SigningCertURL's SNS host over TLS, then requires it to be valid now and to carry SNS's
signing name for that region, checked as a TLS client checks a server's name
(:func:`signing_name`: ``sns.amazonaws.com`` in most regions). A certificate is not trusted
for where it was downloaded from, though, so here it must also chain to a CA of the trust
store: certifi's Mozilla bundle, or ``SPSYNC_SNS_CA_BUNDLE`` (tests, private CAs). That is
cryptography's web PKI verification: RFC 5280 path building, every certificate of the chain
valid now, the name in the leaf's subjectAltName, the serverAuth usage.

SNS serves the leaf alone. Its issuer (Amazon RSA 2048 M01 ... under Amazon Root CA 1) comes
from the PEM when it is there, else from the leaf's AIA "CA Issuers" URL, fetched only from a
host matching ``SPSYNC_SNS_ISSUER_HOST_PATTERN`` (``crt.<name>.amazontrust.com``); it needs no
TLS, since it must itself chain to the store. Verified certificates are cached by URL
(:data:`CERTS`); one that fails is not.

Refusals are :class:`Rejected` (403, SNS does not retry); a certificate host that does not
answer is :class:`Unavailable` (502, SNS retries).
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import aiohttp
import certifi
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.verification import PolicyBuilder, Store, Subject, VerificationError
from yarl import URL

from worker.config import ConfigError, Settings

MAX_CERT = 64 * 1024  # an SNS signing certificate is about 2 KB
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
MAX_ISSUER_FETCHES = 2  # AIA URLs followed per leaf (Amazon's leaves name one)

SNS_HOST = re.compile(r"^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
# Regions whose SNS signs with its own certificate (aws-sdk-java-v2 SnsHostProvider).
SIGNING_HOST_REGIONS = frozenset({
    "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "me-south-1", "me-central-1",
    "eu-south-1", "eu-south-2", "eu-central-2", "af-south-1", "il-central-1", "ca-west-1",
    "mx-central-1",
})
PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class Rejected(Exception):
    """The message is refused: ``status`` 400 (malformed), 403 (not provably from SNS) or
    413 (too large). ``reason`` is one line naming what failed, never the message's values."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Unavailable(Exception):
    """Something this endpoint needs from AWS did not answer; 502, and SNS retries."""


def forbidden(reason: str) -> Rejected:
    return Rejected(403, reason)


def signing_name(host: str) -> str:
    """The name SNS's signing certificate must carry when served from ``host``."""
    match = SNS_HOST.fullmatch(host)
    if match is None:
        return host  # a test or development host (SPSYNC_SNS_CERT_HOST_PATTERN)
    region, china = match.group(1), match.group(2)
    if china:
        known = region in ("cn-north-1", "cn-northwest-1")
        return f"sns-{region}.amazonaws.com.cn" if known else "sns.amazonaws.com.cn"
    if region in ("us-gov-west-1", "us-gov-east-1"):
        return "sns-us-gov-west-1.amazonaws.com"
    if region in SIGNING_HOST_REGIONS:
        return f"sns-signing.{region}.amazonaws.com"
    return "sns.amazonaws.com"


@dataclass(frozen=True)
class Trust:
    """What a signing certificate must chain to, and where its issuer may be fetched."""

    store: Store
    anchors: frozenset[x509.Name]  # the store's subjects
    issuer_host: re.Pattern[str]

    def verify(self, chain: list[x509.Certificate], name: str, now: datetime) -> None:
        """``chain[0]`` chains to the store through ``chain[1:]``, is valid at ``now`` and
        is a certificate for ``name``; else :class:`Rejected`."""
        verifier = PolicyBuilder().store(self.store).time(now).build_server_verifier(
            _subject(name))
        try:
            verifier.verify(chain[0], chain[1:])
        except VerificationError as exc:
            raise forbidden(f"signing certificate is not trusted for {name}: "
                            f"{_why(exc)}") from None

    def needs_issuer(self, chain: list[x509.Certificate]) -> bool:
        """Whether the leaf's issuer is neither in ``chain`` nor a trust anchor."""
        issuer = chain[0].issuer
        return issuer not in self.anchors and all(c.subject != issuer for c in chain[1:])

    def issuer_urls(self, cert: x509.Certificate) -> list[URL]:
        """The certificate's AIA "CA Issuers" URLs on an allowed host (http or https)."""
        try:
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
        except x509.ExtensionNotFound:
            return []
        urls = []
        for desc in aia.value:
            if desc.access_method != AuthorityInformationAccessOID.CA_ISSUERS or not isinstance(
                    desc.access_location, x509.UniformResourceIdentifier):
                continue
            url = _url(desc.access_location.value)
            if url is not None and url.raw_host and self.issuer_host.fullmatch(url.raw_host):
                urls.append(url)
        return urls[:MAX_ISSUER_FETCHES]


def trust_of(settings: Settings) -> Trust:
    return _trust(settings.sns_ca_bundle, settings.sns_issuer_host_pattern)


@lru_cache(maxsize=4)
def _trust(bundle: str | None, issuer_host: str) -> Trust:
    path = Path(bundle) if bundle else Path(certifi.where())
    try:
        anchors = load_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"SPSYNC_SNS_CA_BUNDLE {path} cannot be read ({exc.strerror})") from None
    if not anchors:
        raise ConfigError(f"SPSYNC_SNS_CA_BUNDLE {path} holds no PEM certificate")
    return Trust(Store(anchors), frozenset(c.subject for c in anchors), re.compile(issuer_host))


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every PEM certificate in ``data`` that parses; one that does not is skipped (a CA
    bundle may hold a certificate this cryptography version no longer accepts)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for block in PEM_BLOCK.findall(data):
            try:
                out.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return out


def _why(exc: VerificationError) -> str:
    """cryptography's reason in one short line."""
    text = str(exc).removeprefix("validation failed: ")
    if text.startswith("candidates exhausted"):
        return "no chain to a trusted CA"
    return text.split(" (encountered", 1)[0][:120]


def _subject(name: str) -> Subject:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _url(value: str) -> URL | None:
    try:
        url = URL(value)
    except (ValueError, TypeError):
        return None
    if url.scheme not in ("http", "https") or url.user is not None or url.password is not None:
        return None
    return url


async def read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes | None:
    """At most ``cap`` bytes of ``stream``; None when it holds more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(session: aiohttp.ClientSession, url: URL, what: str) -> bytes:
    """The body at ``url`` (no redirects, :data:`MAX_CERT` bytes at most)."""
    try:
        async with session.get(url, allow_redirects=False, timeout=FETCH_TIMEOUT) as resp:
            if resp.status >= 500:
                raise Unavailable(f"{what} answered HTTP {resp.status}")
            if resp.status != 200:
                raise forbidden(f"{what} answered HTTP {resp.status}")
            body = await read_capped(resp.content, MAX_CERT)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(f"{what} unreachable ({type(exc).__name__})") from None
    if body is None:
        raise forbidden(f"{what} is too large")
    return body


async def fetch_verified(session: aiohttp.ClientSession, url: URL, trust: Trust,
                         now: datetime) -> x509.Certificate:
    """The signing certificate at ``url``, once it is trusted for SNS at ``url``'s host."""
    chain = load_certificates(await fetch(session, url, "signing certificate"))
    if not chain:
        raise forbidden("signing certificate is not a PEM certificate")
    if trust.needs_issuer(chain):
        for issuer_url in trust.issuer_urls(chain[0]):
            chain += _issuer_certificates(await fetch(session, issuer_url,
                                                      "signing certificate's issuer"))
    trust.verify(chain, signing_name(url.raw_host or ""), now)
    return chain[0]


def _issuer_certificates(body: bytes) -> list[x509.Certificate]:
    """An AIA document: one DER certificate (what CAs publish), or PEM."""
    try:
        return [x509.load_der_x509_certificate(body)]
    except ValueError:
        return load_certificates(body)


CertSource = Callable[[URL], Awaitable[x509.Certificate]]


class CertCache:
    """Verified signing certificates by URL; at most ``size``, the least recently used
    dropped. A fetch that raises caches nothing."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._certs: OrderedDict[str, x509.Certificate] = OrderedDict()

    async def get(self, url: URL, fetch: CertSource) -> x509.Certificate:
        key = str(url)
        cert = self._certs.get(key)
        if cert is not None:
            self._certs.move_to_end(key)
            return cert
        cert = await fetch(url)
        self._certs[key] = cert
        while len(self._certs) > self._size:
            self._certs.popitem(last=False)
        return cert

    def clear(self) -> None:
        self._certs.clear()


CERTS = CertCache()  # per process: certificates are public and change only with their URL
