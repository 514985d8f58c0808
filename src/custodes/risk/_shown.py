"""The k rule of what a report may show: a value held by fewer records than the
release's k singles people out, so it is only ever counted, never named."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Distribution", "fold_rare", "smallest_shown"]

Distribution = Sequence[tuple[str, int]]


def smallest_shown(manifest: Mapping[str, Any]) -> int:
    """The fewest records a value needs to be named in a report of this release.

    The release's k: the largest of the k of its k-anonymity models, the
    smallest class it achieved, and 2. A value held by fewer records is only
    counted, among "values below k".
    """
    ks = [
        int(m["k"])
        for m in manifest.get("spec", {}).get("models", [])
        if isinstance(m, Mapping) and m.get("model") == "KAnonymity" and "k" in m
    ]
    achieved = manifest.get("risk_after", {}).get("k_anonymity")
    if isinstance(achieved, int) and not isinstance(achieved, bool):
        ks.append(achieved)
    return max([2, *ks])


_FOLDED = re.compile(r"^([\d,]+) values with fewer than ([\d,]+) records$")


def fold_rare(distribution: Distribution, smallest: int) -> list[tuple[str, int]]:
    """The distribution with every value held by fewer than ``smallest`` records folded
    into one entry that names no value. Folding a folded distribution again changes
    nothing: an earlier fold's entry joins the new one with the values it counts."""
    kept: list[tuple[str, int]] = []
    values = records = 0
    for value, n in distribution:
        folded = _FOLDED.match(value)
        if folded is not None and int(folded.group(2).replace(",", "")) <= smallest:
            values += int(folded.group(1).replace(",", ""))
            records += n
        elif n < smallest:
            values += 1
            records += n
        else:
            kept.append((value, n))
    if values:
        kept.append((f"{values:,} values with fewer than {smallest:,} records", records))
    return kept
