"""Names fixed at package time.

Chalice reads event-source arguments when `chalice package` runs, so queue names are
constants shared by `app.py`, the CloudFormation in `infra/` and the local stack.
"""

QUEUE_STOCK_PLAN = "ozon-stock-plan"
QUEUE_STOCK_PUSH = "ozon-stock-push"

# Parallel stock workers per deployment. Ozon takes 80 stock requests a minute, so a
# handful of workers keeps up while the limiter spaces the calls.
STOCK_WORKER_CONCURRENCY = 4
