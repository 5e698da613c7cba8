"""The command line ``python -m nodebook_utils.data [--fetch NAME]`` (00_start_here)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .status import DATASETS, fetch_dataset, status_table
from .store import ChecksumError, DataUnavailableError


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nodebook_utils.data [--fetch NAME]``: print the status table (00_start_here)."""
    parser = argparse.ArgumentParser(
        prog="python -m nodebook_utils.data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--fetch", metavar="NAME", choices=list(DATASETS), help=", ".join(DATASETS))
    args = parser.parse_args(argv)
    if args.fetch:
        try:
            fetch_dataset(args.fetch)
        except (DataUnavailableError, ChecksumError) as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(status_table())
    return 0

