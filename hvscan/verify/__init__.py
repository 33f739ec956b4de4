"""Verification: ask the vendor's API whether each key found still works, without lying or
leaking.

What to ask and how to read the answer is rule data (each rule's ``[rules.verify]`` table in
``rules/*.toml``); the parts that apply it are apart:

- ``policy``: the options (``Settings``), where a key's request goes (a path below the
  operator's API base, never elsewhere), what an answer means (``live``, ``invalid``, else
  ``unknown``), the verified severity and the ``--results`` filter;
- ``org``: the org ID of a request (option, content next to the key, rule's placeholder);
- ``client``: the HTTP requests, each within its key's deadline and the run's, same-origin
  redirects only, keep-alive off (httpx is imported there only);
- ``pacer``: rate limits shared by all workers (the rule's rate-limit headers, ``Retry-After``
  capped by ``Settings.max_wait``);
- ``cache``: ``--verify-cache``, answers by hash between runs, merged under a lock;
- ``step``: the pipeline step tying them together.

The key is sent only in the rule's key header to the configured API, and never reaches a
detail, a log line or the cache file, which holds only hashes, statuses and times.
"""

from hvscan.verify.cache import DiskCache
from hvscan.verify.policy import (
    DEFAULT_API_BASE,
    STATUSES,
    Settings,
    VerifyError,
    check_api_base,
    check_org_id,
    parse_statuses,
)
from hvscan.verify.step import VerifyStep, verify_findings

__all__ = [
    "DEFAULT_API_BASE",
    "STATUSES",
    "DiskCache",
    "Settings",
    "VerifyError",
    "VerifyStep",
    "check_api_base",
    "check_org_id",
    "parse_statuses",
    "verify_findings",
]
