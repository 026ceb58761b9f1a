"""Schemathesis hooks for scripts/check-api-contract.sh.

- The check `error_is_documented`: every error answer is
  `{"error": {"code", "message"}}`, both strings, with a code that
  docs/errors.md lists (the document's own enum of each route's codes is
  checked by schemathesis' response_schema_conformance).
- Positive cases of the routes that read records name, half of the time,
  a record the script created (KP_CONTRACT_SAMPLES: from a path template and
  a path or query parameter to values), so that real records are checked
  against their schemas, not only 404s.
- Positive statistics queries never ask for a quarter and a half together:
  OpenAPI cannot say "not both" of two parameters, and the node refuses it
  (400 bad_period), as docs/api.md says.
"""

import json
import os
import re
import zlib
from pathlib import Path

import schemathesis

ERRORS_MD = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

# The codes are the first column of docs/errors.md's tables: "| `code` |",
# or "| `one` / `other` |".
DOCUMENTED_CODES = frozenset(
    code
    for line in ERRORS_MD.read_text(encoding="utf-8").splitlines()
    if line.startswith("| `")
    for code in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
)

SAMPLES = json.loads(os.environ.get("KP_CONTRACT_SAMPLES") or "{}")


def _is_positive(case):
    return case.meta is not None and case.meta.generation.mode.is_positive


def _pick(values, seed):
    """One of `values`, or None, chosen by `seed`: the same case always makes
    the same choice, so that a failure replays."""
    choice = zlib.crc32(repr(seed).encode()) % (2 * len(values))
    return values[choice] if choice < len(values) else None


@schemathesis.hook
def filter_case(context, case):
    query = case.query or {}
    both_periods = "quarter" in query and "half" in query
    return not (_is_positive(case) and case.operation.path.startswith("/v1/stats") and both_periods)


@schemathesis.hook
def map_case(context, case):
    samples = SAMPLES.get(case.operation.path)
    if not samples or not _is_positive(case):
        return case
    for parameters in (case.path_parameters, case.query):
        for name, values in samples.items():
            if parameters and name in parameters:
                value = _pick(values, parameters[name])
                if value is not None:
                    parameters[name] = value
    return case


@schemathesis.check
def error_is_documented(ctx, response, case):
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"the error answer is not JSON: {error}") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    ):
        raise AssertionError(f'the error answer is not {{"error": {{"code", "message"}}}}: {body!r}')
    if error["code"] not in DOCUMENTED_CODES:
        raise AssertionError(f"error code `{error['code']}` is not in docs/errors.md")
    return None
