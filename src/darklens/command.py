"""What a ``darklens`` verb is, and how every verb reports a user mistake.

Each package declares its verbs in its own ``cli.py`` as :class:`Command` entries (arguments
and the function that runs them); :mod:`darklens.cli` only assembles the verb table. A user
mistake prints one line ``darklens: error: ...`` and exits with status 2; a verb whose optional
dependencies are not installed says which extra to install.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from darklens.errors import DarklensError

__all__ = ["EXTRAS", "Command", "os_reason", "run_command"]

#: top-level module -> the pip extra that installs it
EXTRAS = {"torch": "train", "torchvision": "train", "timm": "train", "accelerate": "train",
          "optuna": "tune", "tensorboard": "tensorboard"}


@dataclass(frozen=True)
class Command:
    """One verb: ``arguments(parser)`` adds its flags, ``run(args)`` returns the exit status."""

    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def run_command(verb: str, fn: Callable[[argparse.Namespace], int],
                args: argparse.Namespace) -> int:
    """Run a verb, turning user mistakes and missing extras into one line and status 2."""
    try:
        return fn(args)
    except DarklensError as err:
        print(f"darklens: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        extra = EXTRAS.get((err.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"darklens: error: darklens {verb} needs {err.name}, which is not installed; "
              f"pip install 'darklens[{extra}]'", file=sys.stderr)
        return 2
    except OSError as err:  # the machine said no: permissions, a full disk, a missing folder
        print(f"darklens: error: {os_reason(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darklens: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def os_reason(err: OSError) -> str:
    """One line for an operating-system error: the file and what went wrong."""
    if err.strerror:
        where = err.filename2 or err.filename
        return f"{where}: {err.strerror}" if where else err.strerror
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
