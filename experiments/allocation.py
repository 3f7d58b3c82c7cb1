"""Which of the 10,000 buckets belong to which variant, kept stable when weights change.

An allocation maps each variant to a list of half-open bucket ranges `[start, end)`. A new
experiment gets contiguous cumulative ranges (control first). When the weights of an existing
experiment change, `reallocate` keeps every variant's ranges, trims the variants that shrink
(from the end of their last range) and hands exactly the freed buckets to the variants that
grow. So the share of customers who change variant is the least possible: half the sum of the
absolute weight changes (50/50 -> 60/40 moves 10% of customers, not ~50% as a reshuffle would).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

BUCKETS = 10_000

Range = tuple[int, int]
Allocation = dict[str, list[Range]]


def bucket_counts(weights: Mapping[str, float]) -> dict[str, int]:
    """Percent weights (summing to 100) -> bucket counts summing to exactly `BUCKETS`.

    Largest-remainder rounding, ties broken by the order of `weights`.
    """
    total = sum(weights.values())
    exact = {name: w * BUCKETS / total for name, w in weights.items()}
    counts = {name: int(x) for name, x in exact.items()}
    short = BUCKETS - sum(counts.values())
    order = sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)
    for name in order[:short]:
        counts[name] += 1
    return counts


def initial_allocation(counts: Mapping[str, int]) -> Allocation:
    """Contiguous cumulative ranges in the order of `counts`."""
    allocation: Allocation = {}
    start = 0
    for name, count in counts.items():
        allocation[name] = [(start, start + count)] if count else []
        start += count
    return allocation


def allocated(ranges: Sequence[Range]) -> int:
    return sum(end - start for start, end in ranges)


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        elif end > start:
            merged.append((start, end))
    return merged


def reallocate(previous: Mapping[str, Sequence[Range]], counts: Mapping[str, int]) -> Allocation:
    """Move from `previous` to the new `counts`, changing the variant of as few buckets as possible.

    Variants absent from `counts` release all their buckets; new variants start empty and take
    freed buckets like any growing variant.
    """
    freed: list[Range] = []
    allocation: Allocation = {}
    for name, ranges in previous.items():
        if name not in counts:
            freed.extend(ranges)
    for name, want in counts.items():
        kept = list(previous.get(name, []))
        excess = allocated(kept) - want
        while excess > 0:  # trim from the end of the last range
            start, end = kept.pop()
            take = min(excess, end - start)
            freed.append((end - take, end))
            if end - take > start:
                kept.append((start, end - take))
            excess -= take
        allocation[name] = kept
    pool = _merge(freed)
    for name, want in counts.items():
        missing = want - allocated(allocation[name])
        while missing > 0:
            start, end = pool.pop(0)
            take = min(missing, end - start)
            allocation[name].append((start, start + take))
            if start + take < end:
                pool.insert(0, (start + take, end))
            missing -= take
        allocation[name] = _merge(allocation[name])
    return allocation


def check_allocation(allocation: Mapping[str, Sequence[Range]]) -> str | None:
    """Why an allocation is invalid (overlap, gap, out of range), or None when it is valid."""
    spans = sorted((r, name) for name, ranges in allocation.items() for r in ranges)
    position = 0
    for (start, end), name in spans:
        if not 0 <= start < end <= BUCKETS:
            return f"variant {name!r} has an invalid bucket range [{start}, {end})"
        if start != position:
            return f"buckets [{min(start, position)}, {max(start, position)}) overlap or are unused"
        position = end
    if position != BUCKETS:
        return f"buckets [{position}, {BUCKETS}) are not allocated to any variant"
    return None


def variant_of(allocation: Mapping[str, Sequence[Range]], bucket: int) -> str:
    """The variant owning `bucket` (the allocation is assumed valid)."""
    for name, ranges in allocation.items():
        for start, end in ranges:
            if start <= bucket < end:
                return name
    raise ValueError(f"bucket {bucket} is not allocated")
