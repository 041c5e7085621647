"""Ozon Seller API credentials: the Client-Id and the Api-Key.

Production reads them from a Secrets Manager secret through Powertools Parameters;
local runs read the environment. Both values are registered with the log filter as soon
as they are loaded, and neither appears in a repr, a str or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

from chalicelib.observability import register_secret
from chalicelib.settings import Settings

ENV_CLIENT_ID = "OZON_CLIENT_ID"
ENV_API_KEY = "OZON_API_KEY"
SECRET_KEYS = ("client_id", "api_key")


class OzonCredentialsError(ValueError):
    """The Ozon credentials are missing or malformed. The message never contains their values."""


@dataclass(frozen=True, repr=False)
class OzonCredentials:
    """The seller's Client-Id and Api-Key."""

    client_id: str
    api_key: str

    def __post_init__(self) -> None:
        for name in SECRET_KEYS:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise OzonCredentialsError(f"Ozon {name} is missing or empty")

    def __repr__(self) -> str:
        return "OzonCredentials(client_id=***, api_key=***)"

    __str__ = __repr__

    def headers(self) -> dict[str, str]:
        """Return the authentication headers of every Ozon Seller API request."""
        return {"Client-Id": self.client_id, "Api-Key": self.api_key}


def load_credentials(
    settings: Settings,
    secrets_client: Any | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> OzonCredentials:
    """Load the credentials from Secrets Manager, or from the environment.

    With `settings.ozon_secret_name` set, the secret must be the JSON object
    `{"client_id": ..., "api_key": ...}`. `secrets_client` is a boto3 Secrets Manager
    client; without it, one is built from the settings' region and endpoint. Otherwise
    OZON_CLIENT_ID and OZON_API_KEY are read from `environ` (default: os.environ).
    Raises OzonCredentialsError naming what is missing.
    """
    if settings.ozon_secret_name:
        credentials = _from_secret(settings, secrets_client)
    else:
        credentials = _from_environment(os.environ if environ is None else environ)

    register_secret(credentials.client_id)
    register_secret(credentials.api_key)
    return credentials


def _from_secret(settings: Settings, secrets_client: Any | None) -> OzonCredentials:
    name = settings.ozon_secret_name
    if secrets_client is None:
        secrets_client = boto3.client(
            "secretsmanager",
            region_name=settings.region,
            endpoint_url=settings.aws_endpoint_url,
        )
    provider = SecretsProvider(boto3_client=secrets_client)

    try:
        secret = provider.get(name, transform="json")
    except TransformParameterError as error:
        raise OzonCredentialsError(
            f"Secrets Manager secret {name!r} is not JSON; store "
            '{"client_id": "...", "api_key": "..."}'
        ) from error
    except GetParameterError as error:
        raise OzonCredentialsError(
            f"cannot read Secrets Manager secret {name!r}: {error}; check that it exists "
            "and that the function role may call secretsmanager:GetSecretValue"
        ) from error

    if not isinstance(secret, dict):
        raise OzonCredentialsError(
            f"Secrets Manager secret {name!r} must be a JSON object with client_id and api_key"
        )

    missing = [key for key in SECRET_KEYS if not _text(secret.get(key))]
    if missing:
        raise OzonCredentialsError(
            f"Secrets Manager secret {name!r} is missing {', '.join(missing)}; "
            "add it to the secret JSON"
        )
    return OzonCredentials(client_id=_text(secret["client_id"]), api_key=_text(secret["api_key"]))


def _from_environment(environ: Mapping[str, str]) -> OzonCredentials:
    client_id = environ.get(ENV_CLIENT_ID, "").strip()
    api_key = environ.get(ENV_API_KEY, "").strip()

    missing = [
        name for name, value in ((ENV_CLIENT_ID, client_id), (ENV_API_KEY, api_key)) if not value
    ]
    if missing:
        raise OzonCredentialsError(
            f"Ozon credentials not configured: {', '.join(missing)} not set; set them, "
            "or set OZON_SECRET_NAME to read them from Secrets Manager"
        )
    return OzonCredentials(client_id=client_id, api_key=api_key)


def _text(value: object) -> str:
    # The Client-Id is numeric, and a hand-written secret may store it as a JSON number.
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    return ""
