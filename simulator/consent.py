"""Seller Central's consent step: ``GET /apps/authorize/consent``.

Plays the website authorization workflow's consent page
(https://developer-docs.amazon.com/sp-api/docs/website-authorization-workflow) so
OAuth onboarding can run end to end without a browser or a human: the page approves at
once and answers 302 to ``redirect_uri`` with ``state`` (echoed unchanged),
``selling_partner_id`` and ``spapi_oauth_code``, a fresh LWA authorization code
(single use, 5 minutes) for the ``authorization_code`` grant at ``/auth/o2/token``.
Amazon's detour through the app's login URI is skipped.

Query: ``application_id`` (the app's ``amzn1.sp.solution.…`` id), ``state``,
``redirect_uri`` (must pass :meth:`Application.accepts_redirect`; the simulator has no
registered default to fall back to) and ``version`` (``beta`` for draft apps; accepted
and ignored). Any problem renders a small HTML page with status 400 and never
redirects, so an unvetted URI is never sent a code. The approving seller is the world's
first until ``POST /_sim/consent`` picks another; a revoked seller who approves gets a
new refresh token when the code is exchanged (see :mod:`lwa`).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from .lwa import Lwa
from .world import World

CONSENT_PATH = "/apps/authorize/consent"


class ConsentRefused(Exception):
    """A consent request the page cannot approve; the message is shown to the user."""


@dataclass
class ConsentStats:
    approved: int = 0  # redirects sent, each carrying a fresh code
    errors: int = 0  # 400 pages rendered


class ConsentDesk:
    """Who approves the next consents, and the approving itself."""

    def __init__(self, lwa: Lwa, world: World) -> None:
        self.lwa = lwa
        self.world = world
        self.approver = next(iter(world.sellers))  # the world's first seller
        self.stats = ConsentStats()

    def set_approver(self, seller_id: str) -> None:
        """Make ``seller_id`` approve every following consent; KeyError if unknown."""
        if seller_id not in self.world.sellers:
            raise KeyError(seller_id)
        self.approver = seller_id

    def approve(self, query: Mapping[str, str]) -> str:
        """The redirect location for one consent, or :class:`ConsentRefused`."""
        try:
            location = self._approve(query)
        except ConsentRefused:
            self.stats.errors += 1
            raise
        self.stats.approved += 1
        return location

    def _approve(self, query: Mapping[str, str]) -> str:
        application_id = query.get("application_id", "")
        if not application_id:
            raise ConsentRefused("The request is missing the application_id parameter.")
        if application_id != self.lwa.app.application_id:
            raise ConsentRefused(f"Unknown application_id {application_id!r}.")
        state = query.get("state", "")
        if not state:
            raise ConsentRefused("The request is missing the state parameter.")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri:
            raise ConsentRefused("The request is missing the redirect_uri parameter.")
        if not self.lwa.app.accepts_redirect(redirect_uri):
            raise ConsentRefused(
                f"redirect_uri {redirect_uri!r} is not registered for this application."
            )
        # Minted only once everything checked out: a refused request leaves no live code.
        code = self.lwa.new_code(self.approver)
        return _with_query(
            redirect_uri,
            {"state": state, "selling_partner_id": self.approver, "spapi_oauth_code": code},
        )


def _with_query(uri: str, extra: dict[str, str]) -> str:
    """``uri`` with ``extra`` appended to whatever query it already has."""
    parts = urlsplit(uri)
    added = urlencode(extra)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def consent_route(desk: ConsentDesk) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /apps/authorize/consent`` (registered for GET only: HEAD must not mint codes)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            location = desk.approve(request.query)
        except ConsentRefused as refused:
            return _error_page(str(refused))
        return web.Response(
            status=302, headers={"Location": location, "Cache-Control": "no-store"}
        )

    return handle


def _error_page(message: str) -> web.Response:
    body = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<title>Authorization failed</title></head>\n"
        "<body><h1>We could not authorize this application</h1>\n"
        f"<p>{html.escape(message)}</p></body></html>\n"
    )
    return web.Response(
        status=400, text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
    )
