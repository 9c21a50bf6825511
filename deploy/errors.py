"""The one boundary where AWS errors become a DeployError naming the resource and the cause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from logdig.aws import error_code

# Causes worth a plainer sentence than AWS's own message.
FRIENDLY = {
    "BucketAlreadyExists": "the bucket name is taken by another account; "
    "choose another with LOGDIG_BUCKET (or LOGDIG_SERVICE_NAME)",
    "AccessDenied": "access denied: the credentials in use may not do this",
    "AccessDeniedException": "access denied: the credentials in use may not do this",
    "InvalidClientTokenId": "the AWS credentials are not valid",
    "ExpiredToken": "the AWS credentials have expired",
    "LimitExceeded": "an account quota is reached",
    "301": "the bucket exists in another region; deploy to that region or name another bucket",
}


class DeployError(Exception):
    """A deploy step failed; str() is the one line the command prints."""

    def __init__(self, resource: str, cause: str):
        super().__init__(f"{resource}: {cause}")
        self.resource = resource
        self.cause = cause


def describe_client_error(exc: ClientError) -> str:
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    operation = exc.operation_name
    friendly = FRIENDLY.get(code)
    if friendly:
        return f"{friendly} ({code} in {operation})"
    return f"{code or 'error'} in {operation}: {message}"


@contextmanager
def aws_errors(resource: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into a DeployError for `resource`."""
    try:
        yield
    except ClientError as exc:
        raise DeployError(resource, describe_client_error(exc)) from exc
    except BotoCoreError as exc:
        raise DeployError(resource, str(exc)) from exc
    except ResponseParserError as exc:  # e.g. an endpoint that answers with an HTML error page
        first_line = str(exc).splitlines()[0]
        raise DeployError(resource, f"the endpoint's answer is not AWS's: {first_line}") from exc
