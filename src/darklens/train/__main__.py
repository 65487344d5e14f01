"""``accelerate launch -m darklens.train CONFIG [--set k=v] [--resume RUN]``: the training verb
on every process of a launch (each runs the same ``train()``; accelerate sets the roles)."""

import sys

from darklens.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
