"""Schemathesis hooks of `sfa reliability fuzz`: strategies for the schema's
own scalars, and the two checks run on every response instead of
schemathesis' GraphQL default (which counts every GraphQL error, a refused
bad input included, as a failure):

- no_server_error: no HTTP 5xx, and no GraphQL error without a client code
  or with INTERNAL (a bug, whatever the input);
- no_internal_text: no SQL, driver or Rust text in any response.
"""

import re

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar("Money", st.integers(min_value=-(10**15), max_value=10**15).map(nodes.Int))
_json_leaf = st.one_of(
    st.text(max_size=20).map(nodes.String),
    st.integers(min_value=-(10**6), max_value=10**6).map(nodes.Int),
    st.booleans().map(lambda b: graphql.BooleanValueNode(value=b)),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        _json_leaf,
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), _json_leaf, max_size=4).map(
            lambda d: nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
            )
        ),
    ),
)
schemathesis.graphql.scalar("Upload", st.just(graphql.NullValueNode()))

# SQL, driver and Rust text that only a leaked internal error would carry.
LEAKS = re.compile(
    r"(\bSELECT\s.+\sFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b|sqlx|sea_orm|SqliteError"
    r"|PgDatabaseError|panicked at|stack backtrace|RUST_BACKTRACE|src/[\w/]+\.rs)",
    re.IGNORECASE | re.DOTALL,
)


@schemathesis.check
def no_server_error(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return
    for error in (body or {}).get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code in (None, "INTERNAL"):
            raise AssertionError(f"error with code {code!r}: {error.get('message')!r}")


@schemathesis.check
def no_internal_text(ctx, response, case):
    found = LEAKS.search(response.text or "")
    if found:
        raise AssertionError(f"internal text in the response: {found.group(0)[:80]!r}")
