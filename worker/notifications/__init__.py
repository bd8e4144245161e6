"""SP-API notifications: setup (destinations, subscriptions), the SQS consumer, the inbox, and
the targeted refresh each notification type triggers."""
