"""`ship`, `listing patch|delete` and `outbox list|show` as an operator runs them: the command
is checked and queued, a worker sweep sends it once, `outbox show` tells the outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e.procs import env_for

from .test_cli import celery
from .test_outbox import FAST, Shop, listing_skus, shop, unshipped  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def env(shop: Shop, clean: Any) -> dict[str, str]:  # noqa: F811
    return env_for(settings_for(clean, shop.sim, token_keys=shop.rt.settings.token_keys))


def _errors(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.startswith("Error")]


def test_ship_queues_once_and_the_sweep_confirms_it(shop: Shop, env: dict[str, str]) -> None:  # noqa: F811
    order_id, items = unshipped(shop)[0]
    args = ["ship", "--seller", shop.spid, "--order-id", order_id, "--marketplace-id",
            shop.market, "--package-ref", "7", "--carrier-code", "UPS", "--tracking", "1Z42",
            "--key", f"ship-{order_id}", *[a for i, q in items for a in ("--item", f"{i}:{q}")]]
    first = celery(*args, env=env)
    assert first.returncode == 0, first.stderr
    again = celery(*args, env=env)  # same idempotency key: the same row, nothing new
    assert again.returncode == 0 and first.stdout.split(":")[0] == again.stdout.split(":")[0]
    outbox_id = int(first.stdout.split()[1].rstrip(":"))

    shop.sweep(timing=FAST)

    shown = json.loads(celery("outbox", "show", str(outbox_id), env=env).stdout)
    assert shown["status"] == "accepted" and shown["command"] == "confirmShipment"
    assert shop.writes("confirmShipment")["applied"] == 1
    listed = json.loads(celery("outbox", "list", "--seller", shop.spid, "--json",
                               env=env).stdout)
    assert [r["id"] for r in listed] == [outbox_id]


def test_listing_delete_and_patch_go_through_the_outbox(shop: Shop, env: dict[str, str]) -> None:  # noqa: F811
    (sku, product_type), (other, _) = list(listing_skus(shop).items())[:2]
    deleted = celery("listing", "delete", "--seller", shop.spid, "--sku", sku,
                     "--marketplace-id", shop.market, env=env)
    assert deleted.returncode == 0, deleted.stderr
    patches = json.dumps([{"op": "delete", "path": "/attributes/purchasable_offer"}])
    patched = celery("listing", "patch", "--seller", shop.spid, "--sku", other,
                     "--marketplace-id", shop.market, "--product-type", product_type,
                     "--patches", patches, env=env)
    assert patched.returncode == 0, patched.stderr
    shop.sweep(timing=FAST)
    statuses = {r["command"]: r["status"] for r in json.loads(
        celery("outbox", "list", "--json", env=env).stdout)}
    assert statuses["deleteListingsItem"] == "accepted"
    assert statuses["patchListingsItem"] in ("accepted", "rejected")  # Amazon decided
    assert sku not in shop.listings()


@pytest.mark.parametrize(("args", "says"), [
    (["ship", "--seller", "A1NOBODY", "--order-id", "113-1234567-1234567", "--marketplace-id",
      "ATVPDKIKX0DER", "--package-ref", "1", "--carrier-code", "UPS", "--tracking", "1Z",
      "--item", "1:1"], "A1NOBODY"),
    (["listing", "patch", "--seller", "1", "--sku", "S", "--marketplace-id", "ATVPDKIKX0DER",
      "--product-type", "P", "--patches", "not json"], "--patches"),
    (["outbox", "show", "999999"], "no outbox row"),
    (["outbox", "show", "99999999999999999999"], "is not in the range"),  # past bigint
    (["ship", "--seller", "1", "--order-id", "113-1234567-1234567", "--marketplace-id",
      "ATVPDKIKX0DER", "--package-ref", "1", "--carrier-code", "UPS", "--tracking", "1Z",
      "--item", "123:99999999999999999999"], "quantity: breaks maximum 2147483647"),
    (["listing", "delete", "--seller", "1", "--sku", "S" * 100_000, "--marketplace-id",
      "ATVPDKIKX0DER"], "params.sku: breaks maxLength 255"),
])
def test_bad_input_fails_with_one_line_and_queues_nothing(shop: Shop, env: dict[str, str],  # noqa: F811
                                                          args: list[str], says: str) -> None:
    done = celery(*args, env=env)
    assert done.returncode != 0
    errors = _errors(done.stderr)
    assert len(errors) == 1 and says in errors[0]
    assert json.loads(celery("outbox", "list", "--json", env=env).stdout) == []


def test_a_shipment_breaking_the_model_is_refused_before_it_is_queued(
        shop: Shop, env: dict[str, str]) -> None:  # noqa: F811
    done = celery("ship", "--seller", shop.spid, "--order-id", "not-an-order", "--marketplace-id",
                  shop.market, "--package-ref", "1", "--carrier-code", "UPS", "--tracking",
                  "1Z", "--item", "x:1", env=env)
    assert done.returncode != 0 and len(_errors(done.stderr)) == 1
    assert "orderId" in _errors(done.stderr)[0]
    assert json.loads(celery("outbox", "list", "--json", env=env).stdout) == []


def test_an_idempotency_key_is_refused_for_another_command(shop: Shop,  # noqa: F811
                                                            env: dict[str, str]) -> None:
    def delete(sku: str) -> Any:
        return celery("listing", "delete", "--seller", shop.spid, "--sku", sku,
                      "--marketplace-id", shop.market, "--key", "erp-7", env=env)

    first = delete("SKU-A")
    assert first.returncode == 0, first.stderr
    outbox_id = int(first.stdout.split()[1].rstrip(":"))
    other = delete("SKU-B")
    assert other.returncode == 1
    (line,) = _errors(other.stderr)
    assert f"already used by outbox row {outbox_id} (deleteListingsItem, pending)" in line
    again = delete("SKU-A")  # the same command: reported, not queued twice
    assert again.returncode == 0 and "already queued (pending)" in again.stdout
    rows = json.loads(celery("outbox", "list", "--json", env=env).stdout)
    assert [r["id"] for r in rows] == [outbox_id]
