"""order profit: ``order_profit`` (per order and currency) and ``order_profit_daily`` (per
seller, UTC day and currency), from the financial transactions (docs/schema.md)

Revision ID: 0011
Revises: 0010

Every amount is Amazon's, signed as Amazon signs it (money to the seller positive, fees and
refunds negative), and summed per currency only. The parts:

- ``sales``: the ``ProductCharges`` breakdowns (principal, tax, shipping...) of the order's
  ``Shipment`` transactions;
- ``fees``: the ``AmazonFees`` breakdowns of all its transactions (a refund's fee credit is
  positive);
- ``refunds``: the ``ProductCharges`` breakdowns of its ``Refund`` transactions;
- ``reimbursements``: the totals of its transactions whose type names a reimbursement;
- ``other``: what the totals hold beyond those (adjustments, promotions, ...), so that
  ``sales + fees + refunds + reimbursements + other = net``;
- ``net``: the sum of its transactions' totals; ``released`` and ``deferred`` split it by
  status (``RELEASED``/``DEFERRED_RELEASED`` vs ``DEFERRED``: not final yet).

Breakdowns are read at the transaction level (``item = 0``), the leaves only. Plain views:
the money tables are indexed by seller and order.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PER_TRANSACTION = """
    SELECT t.seller_id, t.order_id, t.currency, t.transaction_type, t.transaction_status,
           t.posted_date, t.marketplace_id, coalesce(t.total_amount, 0) AS total,
           coalesce((SELECT sum(b.amount) FROM financial_transaction_breakdowns b
                     WHERE b.seller_id = t.seller_id AND b.transaction_id = t.transaction_id
                       AND b.item = 0 AND b.leaf
                       AND (b.path = 'ProductCharges' OR b.path LIKE 'ProductCharges/%')), 0)
               AS charges,
           coalesce((SELECT sum(b.amount) FROM financial_transaction_breakdowns b
                     WHERE b.seller_id = t.seller_id AND b.transaction_id = t.transaction_id
                       AND b.item = 0 AND b.leaf
                       AND (b.path = 'AmazonFees' OR b.path LIKE 'AmazonFees/%')), 0)
               AS fees
    FROM financial_transactions t
    WHERE t.order_id IS NOT NULL AND t.currency IS NOT NULL
"""

_ORDER_PROFIT = f"""
CREATE VIEW order_profit AS
WITH per_transaction AS ({_PER_TRANSACTION}),
parts AS (
    SELECT seller_id, order_id, currency,
           min(marketplace_id) AS marketplace_id,
           min(posted_date) AS first_posted, max(posted_date) AS last_posted,
           count(*) AS transactions,
           sum(charges) FILTER (WHERE transaction_type = 'Shipment') AS sales,
           sum(fees) AS fees,
           sum(charges) FILTER (WHERE transaction_type = 'Refund') AS refunds,
           sum(total) FILTER (WHERE transaction_type ILIKE '%reimburse%') AS reimbursements,
           sum(total) AS net,
           sum(total) FILTER (WHERE transaction_status IN ('RELEASED', 'DEFERRED_RELEASED'))
               AS released,
           sum(total) FILTER (WHERE transaction_status = 'DEFERRED') AS deferred
    FROM per_transaction
    GROUP BY seller_id, order_id, currency)
SELECT p.seller_id, s.selling_partner_id, order_id, currency, marketplace_id, first_posted,
       last_posted, transactions,
       coalesce(sales, 0) AS sales, fees, coalesce(refunds, 0) AS refunds,
       coalesce(reimbursements, 0) AS reimbursements,
       net - coalesce(sales, 0) - fees - coalesce(refunds, 0) - coalesce(reimbursements, 0)
           AS other,
       net, coalesce(released, 0) AS released, coalesce(deferred, 0) AS deferred
FROM parts p JOIN sellers s ON s.id = p.seller_id
"""  # noqa: S608 - no input: one constant inside another

_DAILY = """
CREATE VIEW order_profit_daily AS
SELECT seller_id, selling_partner_id, (first_posted AT TIME ZONE 'UTC')::date AS day, currency,
       count(*) AS orders, sum(sales) AS sales, sum(fees) AS fees, sum(refunds) AS refunds,
       sum(reimbursements) AS reimbursements, sum(other) AS other, sum(net) AS net,
       sum(released) AS released, sum(deferred) AS deferred
FROM order_profit
GROUP BY seller_id, selling_partner_id, (first_posted AT TIME ZONE 'UTC')::date, currency
"""


def upgrade() -> None:
    op.execute(_ORDER_PROFIT)
    op.execute(_DAILY)


def downgrade() -> None:
    op.execute("DROP VIEW order_profit_daily")
    op.execute("DROP VIEW order_profit")
