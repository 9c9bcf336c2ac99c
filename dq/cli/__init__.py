"""The ``dq`` command line: it only parses arguments and calls the library.

Every error a user can cause (a ``DQError``) is printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dq.cli import commands
from dq.cli.parser import EXIT_USAGE, build_parser

EXIT_INTERRUPTED = 130

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]


def _fill_auto_defaults(args: argparse.Namespace) -> None:
    from dq.config import CONFIG

    epochs = CONFIG.fine_tune_epochs if getattr(args, "fine_tune", False) else CONFIG.auto_epochs
    for name, default in (("epochs", epochs), ("folds", CONFIG.auto_folds), ("seed", CONFIG.auto_seed)):
        if getattr(args, name, 0) is None:
            setattr(args, name, default)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dq`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from dq.errors import DQError

    args = build_parser().parse_args(argv)
    _fill_auto_defaults(args)
    if getattr(args, "quiet", False):
        commands.quiet_libraries()
    try:
        with commands.steps_shown(getattr(args, "verbose", False)):
            return int(args.func(args))
    except DQError as exc:
        print(f"dq {args.command}: error: {' '.join(str(exc).split(chr(10)))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"dq {args.command}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"dq {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
