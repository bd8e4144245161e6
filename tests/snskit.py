"""What SNS does, for tests of ``POST /notifications/sns``: a throwaway CA hierarchy shaped
like Amazon's (root -> intermediate -> signing certificate named for SNS), and messages signed
the way SNS signs them. Written from AWS's documentation, not from worker.web.sns."""

from __future__ import annotations

import base64
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:spsync-notifications"
SUBSCRIBE_URL = ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
                 f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e2425c464de12884c")
SNS_NAME = "sns.amazonaws.com"  # what SNS's signing certificate is issued to in most regions


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class Ca:
    """A certificate authority: its key and certificate."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def issue(self, key: rsa.RSAPublicKey, subject: str, *, ca: bool,
              names: tuple[str, ...] = (), valid_from: datetime | None = None,
              valid_to: datetime | None = None, aia_url: str | None = None) -> x509.Certificate:
        """A certificate for ``key`` signed by this CA: another CA, or a TLS-style leaf for
        ``names`` (serverAuth, as Amazon's public CA issues SNS's)."""
        now = datetime.now(UTC)
        builder = (x509.CertificateBuilder().subject_name(_name(subject))
                   .issuer_name(self.cert.subject).public_key(key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(valid_from or now - timedelta(days=1))
                   .not_valid_after(valid_to or now + timedelta(days=30))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), False))
        builder = _ca_extensions(builder) if ca else _leaf_extensions(builder, names, aia_url)
        return builder.sign(self.key, hashes.SHA256())

    def intermediate(self, subject: str) -> Ca:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return Ca(key, self.issue(key.public_key(), subject, ca=True,
                                  valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                                  valid_to=datetime(2040, 1, 1, tzinfo=UTC)))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> str:
        """This CA's certificate as a one-certificate trust bundle at ``path``."""
        path.write_bytes(self.pem)
        return str(path)


def _ca_extensions(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False)
    return (builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(usage, True))


def _leaf_extensions(builder: x509.CertificateBuilder, names: tuple[str, ...],
                     aia_url: str | None) -> x509.CertificateBuilder:
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=True, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(usage, True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
               .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), False))
    if aia_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(aia_url))]), False)
    return builder


def make_root(subject: str = "spsync test root CA") -> Ca:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(_name(subject)).public_key(key.public_key()).serial_number(1)
               .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
               .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              False))
    return Ca(key, _ca_extensions(builder).sign(key, hashes.SHA256()))


ROOT = make_root()  # the tests' "Amazon Root CA 1"
ISSUER = ROOT.intermediate("spsync test RSA 2048 M01")  # the tests' "Amazon RSA 2048 M01"


@dataclass(frozen=True)
class Signer:
    """SNS's signing key and certificate, with the intermediates it chains through."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def pem(self) -> bytes:
        """The leaf alone, as SNS serves it."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def pem_with_chain(self) -> bytes:
        return self.pem + b"".join(c.public_bytes(serialization.Encoding.PEM)
                                   for c in self.chain)


def make_signer(valid_from: datetime | None = None, valid_to: datetime | None = None, *,
                name: str = SNS_NAME, issuer: Ca | None = None,
                aia_url: str | None = None) -> Signer:
    """A signing certificate for ``name`` issued by ``issuer`` (the test intermediate)."""
    ca = issuer or ISSUER
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = ca.issue(key.public_key(), name, ca=False, names=(name,), valid_from=valid_from,
                    valid_to=valid_to, aia_url=aia_url)
    return Signer(key, cert, () if ca is ROOT else (ca.cert,))


def self_signed(name: str = SNS_NAME) -> Signer:
    """A certificate nobody vouches for, named like SNS's: its own issuer."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    placeholder = (x509.CertificateBuilder().subject_name(_name(name))
                   .issuer_name(_name(name)).public_key(key.public_key()).serial_number(1)
                   .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
                   .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC)).sign(key, hashes.SHA256()))
    own = Ca(key, placeholder)  # issue() takes only its subject and key
    return Signer(key, own.issue(key.public_key(), name, ca=False, names=(name,)))


def canonical(fields: dict[str, Any]) -> bytes:
    """AWS: Notification signs Message, MessageId, Subject (if present), Timestamp, TopicArn,
    Type; the two confirmations sign Message, MessageId, SubscribeURL, Timestamp, Token,
    TopicArn, Type. Each as the key, a newline, the value, a newline."""
    if fields["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = ""
    for key in keys:
        if key == "Subject" and fields.get("Subject") is None:
            continue
        text += key + "\n" + fields[key] + "\n"
    return text.encode("utf-8")


def sign(fields: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "2") -> dict[str, Any]:
    # SignatureVersion 1 is SHA1withRSA: SNS's definition, not a choice made here
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    signature = key.sign(canonical(fields), padding.PKCS1v15(), digest)
    return {**fields, "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode()}


def timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.") + "123Z"


def notification(message: str, *, cert_url: str = CERT_URL, subject: str | None = None,
                 at: datetime | None = None, message_id: str | None = None,
                 topic: str = TOPIC) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Type": "Notification", "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic, "Message": message, "Timestamp": timestamp(at),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x=1",
    }
    if subject is not None:
        fields["Subject"] = subject
    return fields


def confirmation(kind: str = "SubscriptionConfirmation", *, cert_url: str = CERT_URL,
                 subscribe_url: str = SUBSCRIBE_URL,
                 at: datetime | None = None) -> dict[str, Any]:
    return {
        "Type": kind, "MessageId": str(uuid.uuid4()),
        "Token": "2336412f37fb687f5d51e6e2425c464de12884c", "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\n"
                   "To confirm the subscription, visit the SubscribeURL included in this "
                   "message.",
        "SubscribeURL": subscribe_url, "Timestamp": timestamp(at), "SigningCertURL": cert_url,
    }
