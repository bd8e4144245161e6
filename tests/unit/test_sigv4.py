"""SigV4 against AWS's published test vector "get-vanilla" (aws-sig-v4-test-suite)."""

from __future__ import annotations

import datetime as real_datetime

import aws_requests_auth.aws_auth as aws_auth

from worker.spapi.regions import Region
from worker.spapi.sigv4 import Signer


class _FixedDatetime:
    class datetime:
        @staticmethod
        def utcnow():
            return real_datetime.datetime(2015, 8, 30, 12, 36, 0)


def test_signature_matches_the_aws_test_vector(monkeypatch):
    monkeypatch.setattr(aws_auth, "datetime", _FixedDatetime)
    signer = Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    region = Region("NA", "us-east-1", "https://example.amazonaws.com", "", "")
    import worker.spapi.sigv4 as sig

    monkeypatch.setattr(sig, "SERVICE", "service")
    headers = signer.headers("GET", "https://example.amazonaws.com/", b"", region)
    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_repr_hides_the_secret():
    assert "EXAMPLEKEY" not in repr(Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/EXAMPLEKEY"))
