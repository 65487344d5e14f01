"""``python -m darklens`` is the ``darklens`` command."""

import sys

from darklens.cli import main

sys.exit(main())
