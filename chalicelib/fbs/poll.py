"""The polling safety net: postings whose push notice came late or never came.

Ozon advises polling the unfulfilled list besides the push notices, because a new-posting
notice can arrive late, twice or not at all. The poll walks `/v4/posting/fbs/unfulfilled/list`
(cursor paging, 100 per page) and queues an event for every posting this service has
not seen yet, has seen in an older status, or has packed without a label on the way.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.fbs.messages import FbsEventMessage
from chalicelib.fbs.pipeline import LABEL, FbsDeps, action_key
from chalicelib.observability import logger
from chalicelib.ozon.fbs import MAX_UNFULFILLED_PAGE
from chalicelib.ozon.fbs_models import AWAITING_DELIVER, FbsPosting, status_rank
from chalicelib.storage.queues import OutgoingMessage

# Postings whose ship-by time passed more than this long ago are no longer polled.
LOOKBACK = timedelta(days=2)


def poll_unfulfilled(deps: FbsDeps) -> dict[str, int]:
    """Queue an event for every unfulfilled posting that the pipeline has missed."""
    now = deps.store.now()
    seen = queued = 0
    page: list[FbsPosting] = []
    for api in deps.ozon.iter_unfulfilled(now - LOOKBACK, now + timedelta(days=deps.settings.fbs_poll_lookahead_days)):
        seen += 1
        page.append(api)
        if len(page) == MAX_UNFULFILLED_PAGE:
            queued += _queue_missed(deps, page)
            page = []
    queued += _queue_missed(deps, page)
    logger.info("unfulfilled postings polled", extra={"seen": seen, "queued": queued})
    return {"seen": seen, "queued": queued}


def _queue_missed(deps: FbsDeps, postings: list[FbsPosting]) -> int:
    """Queue the postings of one page that the pipeline has not seen in their status."""
    if not postings:
        return 0
    rows = deps.store.get_many([api.posting_number for api in postings])
    unlabelled = [api.posting_number for api in postings
                  if api.status == AWAITING_DELIVER and api.posting_number in rows
                  and not rows[api.posting_number].label_key]
    scheduled = deps.store.claims_present([(action_key(number), LABEL) for number in unlabelled])

    missed = []
    for api in postings:
        row = rows.get(api.posting_number)
        if row is None or status_rank(api.status) > status_rank(row.status):
            missed.append(api.posting_number)
        elif api.posting_number in unlabelled and (action_key(api.posting_number), LABEL) not in scheduled:
            missed.append(api.posting_number)
    messages = [OutgoingMessage(FbsEventMessage(posting_number=number, source="poll",
                                                received_at=deps.clock.now()).model_dump()) for number in missed]
    deps.events.send(messages)
    return len(messages)
