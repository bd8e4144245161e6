"""Optional AWS Signature Version 4 signing (Amazon no longer requires it for SP-API).

Enabled when AWS credentials are configured; aws-requests-auth computes the signature, we only
adapt an aiohttp request to the ``requests`` shape it reads (method, URL, body).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth

from worker.spapi.regions import Region

SERVICE = "execute-api"


class Signer:
    def __init__(self, access_key: str, secret_key: str, session_token: str | None = None) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._token = session_token

    def __repr__(self) -> str:  # never show the secret
        return f"Signer(access_key={self._access_key[:4]}…)"

    def headers(self, method: str, url: str, body: bytes, region: Region) -> dict[str, str]:
        """Headers (``Authorization``, ``x-amz-date``[, token]) that sign this request."""
        auth = AWSRequestsAuth(
            aws_access_key=self._access_key,
            aws_secret_access_key=self._secret_key,
            aws_host=urlsplit(url).netloc,
            aws_region=region.aws_region,
            aws_service=SERVICE,
            aws_token=self._token,
        )
        prepared = requests.Request(method, url, data=body or None).prepare()
        return dict(auth.get_aws_request_headers_handler(prepared))
