"""``python -m groundlabel``: the same command as ``groundlabel``."""

import sys

from groundlabel.cli import main

if __name__ == "__main__":
    sys.exit(main())
