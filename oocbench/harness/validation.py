"""The stream of a tuning grid point: the training rows split in two, the dataset's holdout out of reach.

A grid point (:mod:`oocbench.harness.tune`) runs as an ordinary case in its own child process with one change:
its stream is a :class:`ValidationSplit`, which learns from the first ``rows`` training rows and, in place of the
holdout, yields the next ``valid_rows`` training rows (the validation tail), transformed with the statistics of
the rows learnt from. Everything a case scores "on the holdout" (learning curve, checkpoints, final metrics) goes
through :meth:`~oocbench.features.BatchStream.holdout`, so in a grid point all of it is scored on the validation
tail, and nothing in the case opens the holdout's shard: the holdout stays for the figure the tuned case reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa

from oocbench.datasets import rebatch
from oocbench.features import BatchStream

#: share of a tune scale's training rows held out as the validation tail (the last rows: a stream's own order)
VALID_SHARE = 0.2
#: ... and at least this many rows (never more than half of them)
MIN_VALID_ROWS = 2_000


def split_rows(rows: int) -> tuple[int, int]:
    """``(train, valid)`` rows of a tune scale: the last :data:`VALID_SHARE` of ``rows``, at least
    :data:`MIN_VALID_ROWS` and at most half, validate; the rows before them train.

    >>> split_rows(20_000), split_rows(100_000), split_rows(3_000)
    ((16000, 4000), (80000, 20000), (1500, 1500))
    """
    valid = min(rows // 2, max(MIN_VALID_ROWS, round(rows * VALID_SHARE)))
    return rows - valid, valid


@dataclass
class ValidationSplit(BatchStream):
    """A :class:`~oocbench.features.BatchStream` of the first ``rows`` training rows whose :meth:`holdout` is the
    validation tail, training rows ``[rows, rows + valid_rows)``, in the adapter's input format, transformed with
    this stream's (the training part's) statistics; built by :meth:`of`."""

    valid_rows: int = 0

    @classmethod
    def of(cls, stream: BatchStream, train_rows: int, valid_rows: int) -> ValidationSplit:
        """``stream`` (as the case built it for its adapter: format, batch size, hash bits...) cut to
        ``train_rows``, with the ``valid_rows`` after them as its holdout.

        Raises
        ------
        ValueError
            When the dataset holds fewer than ``train_rows + valid_rows`` training rows, or either is not positive.
        """
        if train_rows < 1 or valid_rows < 1 or train_rows + valid_rows > stream.dataset.rows:
            raise ValueError(f"a validation split of {train_rows:,} + {valid_rows:,} rows does not fit the dataset's "
                             f"{stream.dataset.rows:,} training rows")
        # every init field of the stream the case built, so a field the feature layer adds travels too
        init = {f.name: getattr(stream, f.name) for f in fields(stream) if f.init and f.name != "valid_rows"}
        return cls(**{**init, "rows": train_rows}, valid_rows=valid_rows)

    def holdout(self) -> Iterator[tuple[Any, np.ndarray]]:
        """The validation tail (never the dataset's holdout), in batches of at least 2^14 rows."""
        spec, size = self.spec, max(self.batch_size, 1 << 14)
        for table in rebatch(self._tail([*spec.numeric, *spec.categorical, spec.target], size), size,
                             self.valid_rows):
            yield spec.transform(table, self.input_format)

    def _tail(self, columns: list[str], size: int) -> Iterator[pa.RecordBatch]:
        """Raw record batches from training row ``rows`` on (whole shards before it are not read)."""
        start, offset = self.rows, 0
        for info in self.dataset.manifest.shards:
            if offset >= start + self.valid_rows:
                return
            if offset + info.rows <= start:
                offset += info.rows
                continue
            skip = max(0, start - offset)
            for batch in self.dataset.record_batches([info], size, columns):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                yield batch.slice(skip)
                skip = 0
            offset += info.rows

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "validation": {
            "train_rows": self.rows, "valid_rows": self.valid_rows,
            "what": (f"a tuning grid point: learnt from training rows [0, {self.rows:,}), scored (learning curve, "
                     f"checkpoints, metrics) on training rows [{self.rows:,}, {self.rows + self.valid_rows:,}) "
                     "with the first part's statistics; the dataset's holdout is not read")}}
