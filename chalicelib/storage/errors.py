"""Storage errors that keep the AWS error they wrap."""

from __future__ import annotations


class StorageError(RuntimeError):
    """An AWS call failed. The message names the resource, what AWS said and what to do;
    the botocore error is kept as `__cause__`."""

    def __init__(self, resource: str, operation: str, detail: str, hint: str) -> None:
        self.resource = resource
        self.operation = operation
        super().__init__(f"{operation} on {resource} failed: {detail}. {hint}")
