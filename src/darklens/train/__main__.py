"""``accelerate launch -m darklens.train CONFIG [--set k=v] [--resume RUN]``: the training verb
on every process of a launch (each runs the same ``train()``; accelerate sets the roles)."""

import argparse
import sys

from darklens.command import run_command
from darklens.train.cli import COMMANDS

parser = argparse.ArgumentParser(prog="python -m darklens.train")
COMMANDS["train"].arguments(parser)
sys.exit(run_command("train", COMMANDS["train"].run, parser.parse_args()))
