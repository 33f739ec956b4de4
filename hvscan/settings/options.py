"""The typed records a scan command runs with, one per group of options, and what they become:
``ScanOptions`` (what to look for and leave out) the pipeline's ``runner.ScanSettings``,
``OutputOptions`` the report's and the exit code's, ``VerifyOptions`` the verification step.

A command's option values (from click, once hvscan/config.py has filled in what the command line
left at its default) are taken into these records by field name (``take``); every field is the
name of an option, so a command gets typed records, never a bag of keyword arguments. Nothing
here knows click: a bad combination raises ``OptionError``, which the command line shows as its
usage error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hvscan.committed import CommittedFile
    from hvscan.runner import ScanSettings
    from hvscan.verify import VerifyStep
    from hvscan.verify.step import RunAnswers

T = TypeVar("T")
R = TypeVar("R", bound=tuple[Any, ...])


class OptionError(Exception):
    """Options that do not go together, or a bad value; ``option`` names the one to blame."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class ScanOptions(NamedTuple):
    """What to look for and what to leave out (every scan command). Files come from disk, or
    from the base commit of a range scan (``hvscan/committed.py``)."""

    rule_files: tuple[Path | CommittedFile, ...]
    exclude: tuple[str, ...]
    ignore_file: Path | CommittedFile | None
    max_decode_depth: int
    max_archive_depth: int
    max_archive_size: int
    max_archive_ratio: int
    max_archive_members: int
    # Other scanners' inline allow markers count (--no-foreign-allow-markers: only hvscan:allow).
    foreign_allow_markers: bool = True
    # Set by hvscan/config.py for a range scan: the ignore file as the change left it.
    untrusted_ignore_file: Path | CommittedFile | None = None
    # Commands without --baseline leave it None.
    baseline_file: Path | CommittedFile | None = None
    # Set by hvscan/config.py when the rule files were named by a configuration file.
    rules_from_configuration: bool = False

    def settings(self, trust_inline: bool = True) -> ScanSettings:
        """The pipeline's settings (``trust_inline``: False for a range scan, whose own
        inline allow markers do not suppress what it adds)."""
        from hvscan.engine import Limits
        from hvscan.runner import ScanSettings

        limits = Limits(decode_depth=self.max_decode_depth,
                        archive_depth=self.max_archive_depth,
                        archive_bytes=self.max_archive_size,
                        archive_ratio=self.max_archive_ratio,
                        archive_members=self.max_archive_members)
        return ScanSettings(rule_files=self.rule_files, exclude=self.exclude,
                        ignore_file=self.ignore_file,
                        untrusted_ignore_file=self.untrusted_ignore_file,
                        rules_from_configuration=self.rules_from_configuration,
                        baseline_file=self.baseline_file, limits=limits,
                        trust_inline=trust_inline,
                        foreign_allow_markers=self.foreign_allow_markers)


class VerifyOptions(NamedTuple):
    """Whether and how found keys are checked against the API."""

    verify: bool
    api_base: str | None
    org_id: str | None
    only_verified: bool
    results: str | None
    verify_workers: int
    verify_timeout: float
    verify_key_deadline: float
    verify_deadline: float
    verify_retries: int
    verify_cache: Path | None
    verify_cache_ttl: int

    def step(self, shared: RunAnswers | None = None) -> VerifyStep | None:
        """The verification step these options ask for, sharing the answers of ``shared`` (a
        run over several repositories); None when it is off."""
        if not self.verify:
            for given, name in ((self.only_verified, "--only-verified"),
                                (self.results, "--results"), (self.verify_cache, "--verify-cache")):
                if given:
                    raise OptionError(f"{name} needs --verify")
            return None
        from hvscan import verify as verifying

        if self.only_verified and self.results:
            raise OptionError("use either --only-verified or --results, not both")
        statuses = _checked("--results", verifying.parse_statuses,
                            "live" if self.only_verified
                            else self.results or ",".join(verifying.STATUSES))
        settings = verifying.Settings(
            api_base=self.api_base or verifying.DEFAULT_API_BASE,
            org_id=self.org_id,
            workers=self.verify_workers, timeout=self.verify_timeout,
            retries=self.verify_retries, key_deadline=self.verify_key_deadline,
            run_deadline=self.verify_deadline)
        from hvscan.runner import HvscanError

        try:
            cache = (verifying.DiskCache.load(self.verify_cache, self.verify_cache_ttl)
                     if self.verify_cache else None)
        except verifying.VerifyError as exc:
            raise HvscanError(str(exc)) from None
        return verifying.VerifyStep(settings, cache, statuses, shared)


def take(values: dict[str, Any], record: type[R]) -> R:
    """The ``record`` made of the values named like its fields, taken out of ``values``; a
    field without a value keeps its default (a record field with neither fails here, loudly)."""
    fields: tuple[str, ...] = record._fields  # type: ignore[attr-defined]
    return record(**{name: values.pop(name) for name in fields if name in values})


def _checked(option: str, check: Callable[[str], T], value: str) -> T:
    from hvscan.verify import VerifyError

    try:
        return check(value)
    except VerifyError as exc:
        raise OptionError(str(exc), option) from None
