"""The SP-API operations spsync calls, as declared by Amazon's models in ``worker/spapi_models``.

``tests/unit/test_operations.py`` re-reads the models and fails if a method, path, rate or
burst here drifts from them, so this table is data checked against the contract.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str  # operationId in the model
    method: str
    path: str  # with {placeholders}
    rate: float  # requests per second (default usage plan)
    burst: int
    model: str  # file in worker/spapi_models, without .json

    def url_path(self, path_params: dict[str, str] | None = None) -> str:
        from urllib.parse import quote

        params = {k: quote(str(v), safe="") for k, v in (path_params or {}).items()}
        return self.path.format(**params)


_OPERATIONS = (
    Operation("getOrders", "GET", "/orders/v0/orders", 0.0167, 20, "ordersV0"),
    Operation(
        "getOrderItems", "GET", "/orders/v0/orders/{orderId}/orderItems", 0.5, 30, "ordersV0"
    ),
    Operation(
        "searchOrders", "GET", "/orders/2026-01-01/orders", 0.0056, 20, "orders_2026-01-01"
    ),
    Operation(
        "getOrder", "GET", "/orders/2026-01-01/orders/{orderId}", 0.5, 30, "orders_2026-01-01"
    ),
    Operation(
        "getInventorySummaries", "GET", "/fba/inventory/v1/summaries", 2.0, 2, "fbaInventoryV1"
    ),
    Operation(
        "getListingsItem", "GET", "/listings/2021-08-01/items/{sellerId}/{sku}", 5.0, 10,
        "listingsItems_2021-08-01",
    ),
    Operation(
        "searchListingsItems", "GET", "/listings/2021-08-01/items/{sellerId}", 5.0, 5,
        "listingsItems_2021-08-01",
    ),
    Operation("createReport", "POST", "/reports/2021-06-30/reports", 0.0167, 15,
              "reports_2021-06-30"),
    Operation("getReports", "GET", "/reports/2021-06-30/reports", 0.0222, 10,
              "reports_2021-06-30"),
    Operation("getReport", "GET", "/reports/2021-06-30/reports/{reportId}", 2.0, 15,
              "reports_2021-06-30"),
    Operation("cancelReport", "DELETE", "/reports/2021-06-30/reports/{reportId}", 0.0222, 10,
              "reports_2021-06-30"),
    Operation("getReportDocument", "GET", "/reports/2021-06-30/documents/{reportDocumentId}",
              0.0167, 15, "reports_2021-06-30"),
    Operation("getOrderMetrics", "GET", "/sales/v1/orderMetrics", 0.5, 15, "salesV1"),
    Operation("getMarketplaceParticipations", "GET", "/sellers/v1/marketplaceParticipations",
              0.016, 15, "sellersV1"),
    # Money: transactions (2024-06-19; v0 events for sellers refused it) and payouts (v0
    # financial event groups)
    Operation("listTransactions", "GET", "/finances/2024-06-19/transactions", 0.5, 10,
              "finances_2024-06-19"),
    Operation("listFinancialEventGroups", "GET", "/finances/v0/financialEventGroups", 0.5, 30,
              "financesV0"),
    Operation("listFinancialEvents", "GET", "/finances/v0/financialEvents", 0.5, 30,
              "financesV0"),
    # Catalog: the items of the ASINs a seller lists or sold, refreshed in batches of 20
    Operation("searchCatalogItems", "GET", "/catalog/2022-04-01/items", 2.0, 2,
              "catalogItems_2022-04-01"),
    # Prices: the competitive summary of the seller's ASINs, a batch of 20 a call (a read, sent
    # as a POST: retried like any read)
    Operation("getCompetitiveSummary", "POST",
              "/batches/products/pricing/2022-05-01/items/competitiveSummary", 0.033, 1,
              "productPricing_2022-05-01"),
    # Notifications: destinations and the ...ById operations are grantless (GrantlessAuth).
    Operation("getDestinations", "GET", "/notifications/v1/destinations", 1.0, 5,
              "notificationsV1"),
    Operation("createDestination", "POST", "/notifications/v1/destinations", 1.0, 5,
              "notificationsV1"),
    Operation("getDestination", "GET", "/notifications/v1/destinations/{destinationId}", 1.0,
              5, "notificationsV1"),
    Operation("deleteDestination", "DELETE", "/notifications/v1/destinations/{destinationId}",
              1.0, 5, "notificationsV1"),
    Operation("createSubscription", "POST", "/notifications/v1/subscriptions/{notificationType}",
              1.0, 5, "notificationsV1"),
    Operation("getSubscription", "GET", "/notifications/v1/subscriptions/{notificationType}",
              1.0, 5, "notificationsV1"),
    Operation("getSubscriptionById", "GET",
              "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}", 1.0, 5,
              "notificationsV1"),
    Operation("deleteSubscriptionById", "DELETE",
              "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}", 1.0, 5,
              "notificationsV1"),
    # Write-back (worker/outbox): each sent at most once, see SpApiClient.call(idempotent=False)
    Operation("confirmShipment", "POST", "/orders/v0/orders/{orderId}/shipmentConfirmation",
              2.0, 10, "ordersV0"),
    Operation("patchListingsItem", "PATCH", "/listings/2021-08-01/items/{sellerId}/{sku}", 5.0,
              5, "listingsItems_2021-08-01"),
    Operation("deleteListingsItem", "DELETE", "/listings/2021-08-01/items/{sellerId}/{sku}",
              5.0, 5, "listingsItems_2021-08-01"),
    Operation("createInboundPlan", "POST", "/inbound/fba/2024-03-20/inboundPlans", 2.0, 2,
              "fulfillmentInbound_2024-03-20"),
    Operation("getInboundOperationStatus", "GET",
              "/inbound/fba/2024-03-20/operations/{operationId}", 2.0, 6,
              "fulfillmentInbound_2024-03-20"),
    # Inbound plans read back (the inbound stream); usage plans from the model's descriptions
    Operation("listInboundPlans", "GET", "/inbound/fba/2024-03-20/inboundPlans", 2.0, 6,
              "fulfillmentInbound_2024-03-20"),
    Operation("getInboundPlan", "GET", "/inbound/fba/2024-03-20/inboundPlans/{inboundPlanId}",
              2.0, 6, "fulfillmentInbound_2024-03-20"),
    Operation("getShipment", "GET",
              "/inbound/fba/2024-03-20/inboundPlans/{inboundPlanId}/shipments/{shipmentId}",
              2.0, 6, "fulfillmentInbound_2024-03-20"),
    Operation("listShipmentItems", "GET",
              "/inbound/fba/2024-03-20/inboundPlans/{inboundPlanId}/shipments/{shipmentId}/items",
              2.0, 30, "fulfillmentInbound_2024-03-20"),
)

OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPERATIONS}


def operation(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"unknown SP-API operation {name!r}") from None
