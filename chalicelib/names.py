"""Names fixed at package time.

Chalice reads event-source arguments when `chalice package` runs, so queue names are
constants shared by `app.py`, the CloudFormation in `infra/` and the local stack.
"""

QUEUE_STOCK_PLAN = "ozon-stock-plan"
QUEUE_STOCK_PUSH = "ozon-stock-push"

# FBS postings: push notices and polls go to the events queue; label requests wait on the
# labels queue until Ozon has had time to render the label.
QUEUE_FBS_EVENTS = "ozon-fbs-events"
QUEUE_FBS_LABELS = "ozon-fbs-labels"
# Parallel workers per FBS queue (2 is the lowest maximum concurrency Lambda accepts).
FBS_WORKER_CONCURRENCY = 2

# Price sync: one message per /v1/product/import/prices request, plus read-backs.
QUEUE_PRICE_PUSH = "ozon-price-push"
PRICE_SCHEDULE_MINUTES = 60

# A change of costs or fees: S3 notifications of uploads under PRICE_INBOX_PREFIX
# (costs*.csv, operator*.csv) and requests of the stock planner after a 1C exchange.
# The prefix is also the bucket's notification filter in infra/resources.yaml.
QUEUE_PRICE_PLAN = "ozon-price-plan"
PRICE_INBOX_PREFIX = "inbox/prices/"

# Alerts: the queue subscribed to the `alerts` SNS topic, read by the Telegram forwarder.
QUEUE_ALERTS_TELEGRAM = "ozon-alerts-telegram"

# Parallel stock workers per deployment. Ozon takes 80 stock requests a minute, so a
# handful of workers keeps up while the limiter spaces the calls.
STOCK_WORKER_CONCURRENCY = 4
