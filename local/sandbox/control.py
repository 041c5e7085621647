"""Control endpoints under `/_sandbox/`: seeding, faults and inspection for tests.

They are not part of the Ozon API and need no credentials, which is safe only because
the server binds to a loopback address.
"""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from local.sandbox.errors import ApiError
from local.sandbox.state import Sandbox

CONTROL_PREFIX = "/_sandbox/"


class SeedRequest(BaseModel):
    """Body of `POST /_sandbox/seed`, with the arguments of `Sandbox.seed`."""

    model_config = ConfigDict(extra="forbid")

    offer_ids: list[str]
    missing_share: float = Field(default=0.0, ge=0.0, le=1.0)
    archived_share: float = Field(default=0.0, ge=0.0, le=1.0)
    reserved_share: float = Field(default=0.0, ge=0.0, le=1.0)
    max_reserved: int = Field(default=3, ge=1)
    seed: int = 1


def seed(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    request = SeedRequest.model_validate(body)
    summary = sandbox.seed(
        request.offer_ids,
        missing_share=request.missing_share,
        archived_share=request.archived_share,
        reserved_share=request.reserved_share,
        max_reserved=request.max_reserved,
        seed=request.seed,
    )
    return summary.to_json()


def set_faults(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    """Change the named fault fields and keep the others as they are."""
    return sandbox.set_faults(**body).model_dump()


def get_faults(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    return sandbox.faults.model_dump()


def get_stats(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    return sandbox.stats()


def get_stocks(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    return {"stocks": [row.to_json() for row in sandbox.stocks().values()]}


def get_history(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    """List applied values per pair. The query `?offer_id=X` narrows it to one offer."""
    history = sandbox.history(query.get("offer_id"))
    return {
        "history": [
            {
                "offer_id": offer_id,
                "warehouse_id": warehouse_id,
                "values": [{"time": time, "stock": stock} for time, stock in values],
            }
            for (offer_id, warehouse_id), values in history.items()
        ]
    }


def reset(sandbox: Sandbox, body: dict, query: dict[str, str]) -> dict:
    sandbox.reset()
    return {"result": True}


CONTROL_ROUTES: dict[tuple[str, str], Callable[[Sandbox, dict, dict[str, str]], dict]] = {
    ("POST", "/_sandbox/seed"): seed,
    ("POST", "/_sandbox/faults"): set_faults,
    ("GET", "/_sandbox/faults"): get_faults,
    ("GET", "/_sandbox/stats"): get_stats,
    ("GET", "/_sandbox/stocks"): get_stocks,
    ("GET", "/_sandbox/history"): get_history,
    ("POST", "/_sandbox/reset"): reset,
}


def run_control(
    sandbox: Sandbox, method: str, path: str, body: dict, query: dict[str, str]
) -> dict:
    """Run a control endpoint. Raises ApiError 404 for an unknown one and 400 for a bad body."""
    handler = CONTROL_ROUTES.get((method, path))
    if handler is None:
        raise ApiError(404, f"no control endpoint {method} {path}")
    try:
        return handler(sandbox, body, query)
    except ValidationError as error:
        raise ApiError(400, f"invalid body for {path}: {_summarize(error)}") from error
    except ValueError as error:
        raise ApiError(400, f"invalid body for {path}: {error}") from error


def _summarize(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors()
    )
