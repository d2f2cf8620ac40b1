"""``python -m retro_gamer``: the ``retro-gamer`` command, for when its script is not on PATH."""

import sys

from retro_gamer.cli import main

if __name__ == "__main__":
    sys.exit(main())
