"""returns and reimbursements: ``fba_returns``, ``mfn_returns`` and ``fba_reimbursements``

Revision ID: 0015
Revises: 0014

The typed report streams ``returns`` (``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``),
``returns-mfn`` (``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``) and ``reimbursements``
(``GET_FBA_REIMBURSEMENTS_DATA``) land one row per line of Amazon's flat files here, keyed by
what identifies a line in each layout (worker/sync/returns.py); a key cell the file leaves
empty is ''. All three get the change feed's triggers (``0009_change_feed``).
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")
_JSONB = postgresql.JSONB(astext_type=sa.Text())
FED = {
    "fba_returns": ("marketplace_id", "order_id", "sku", "return_date",
                    "license_plate_number"),
    "mfn_returns": ("marketplace_id", "order_id", "asin", "merchant_sku",
                    "return_request_date"),
    "fba_reimbursements": ("marketplace_id", "reimbursement_id", "sku", "fnsku"),
}


def _key(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=False)


def _text(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Text(), nullable=True) for name in names]


def _int(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Integer(), nullable=True) for name in names]


def _money(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Numeric(18, 4), nullable=True) for name in names]


def _ts(name: str, *, key: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=not key)


def _bool(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Boolean(), nullable=True) for name in names]


def _mirrored() -> list[sa.Column[object]]:
    return [
        sa.Column("raw", _JSONB, nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
    ]


def _seller() -> list[sa.schema.SchemaItem]:
    return [sa.Column("seller_id", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE")]


def upgrade() -> None:
    op.create_table(
        "fba_returns",
        *_seller(), _key("marketplace_id"), _key("order_id"), _key("sku"),
        _ts("return_date", key=True), _key("license_plate_number"),
        *_text("asin", "fnsku", "product_name"), *_int("quantity"),
        *_text("fulfillment_center_id", "detailed_disposition", "reason", "status"),
        *_mirrored(),
        sa.PrimaryKeyConstraint("seller_id", *FED["fba_returns"]),
    )
    op.create_index("fba_returns_seller_return_date_idx", "fba_returns",
                    ["seller_id", "return_date"])
    op.create_index("fba_returns_seller_order_idx", "fba_returns", ["seller_id", "order_id"])
    op.create_index("fba_returns_sync_version_idx", "fba_returns", ["sync_version"])
    op.create_table(
        "mfn_returns",
        *_seller(), _key("marketplace_id"), _key("order_id"), _key("asin"),
        _key("merchant_sku"), _ts("return_request_date", key=True),
        _ts("order_date"),
        *_text("return_request_status", "amazon_rma_id", "merchant_rma_id", "label_type"),
        *_money("label_cost"),
        *_text("currency", "return_carrier", "tracking_id", "label_to_be_paid_by"),
        *_bool("a_to_z_claim", "is_prime"), *_text("item_name"), *_int("return_quantity"),
        *_text("return_reason"), *_bool("in_policy"),
        *_text("return_type", "resolution", "invoice_number"), _ts("return_delivery_date"),
        *_money("order_amount"), *_int("order_quantity"), *_money("refunded_amount"),
        *_text("safet_action_reason", "safet_claim_id", "safet_claim_state"),
        _ts("safet_claim_creation_time"), *_money("safet_claim_reimbursement_amount"),
        *_mirrored(),
        sa.PrimaryKeyConstraint("seller_id", *FED["mfn_returns"]),
    )
    op.create_index("mfn_returns_seller_request_date_idx", "mfn_returns",
                    ["seller_id", "return_request_date"])
    op.create_index("mfn_returns_seller_order_idx", "mfn_returns", ["seller_id", "order_id"])
    op.create_index("mfn_returns_sync_version_idx", "mfn_returns", ["sync_version"])
    op.create_table(
        "fba_reimbursements",
        *_seller(), _key("marketplace_id"), _key("reimbursement_id"), _key("sku"),
        _key("fnsku"), _ts("approval_date"),
        *_text("case_id", "amazon_order_id", "reason", "asin", "product_name", "condition",
               "currency"),
        *_money("amount_per_unit", "amount_total"),
        *_int("quantity_reimbursed_cash", "quantity_reimbursed_inventory",
              "quantity_reimbursed_total"),
        *_text("original_reimbursement_id", "original_reimbursement_type"),
        *_mirrored(),
        sa.PrimaryKeyConstraint("seller_id", *FED["fba_reimbursements"]),
    )
    op.create_index("fba_reimbursements_seller_approval_date_idx", "fba_reimbursements",
                    ["seller_id", "approval_date"])
    op.create_index("fba_reimbursements_seller_order_idx", "fba_reimbursements",
                    ["seller_id", "amazon_order_id"])
    op.create_index("fba_reimbursements_sync_version_idx", "fba_reimbursements",
                    ["sync_version"])
    for table, keys in FED.items():
        op.execute(_feed._record_function(table, keys))
        for trigger in _feed._triggers(table):
            op.execute(trigger)


def downgrade() -> None:
    for table in FED:
        for event in _feed.EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
    op.drop_table("fba_reimbursements")
    op.drop_table("mfn_returns")
    op.drop_table("fba_returns")
