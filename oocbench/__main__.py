"""``python -m oocbench``: the same command line as ``oocbench``."""

import sys

from oocbench.cli import main

sys.exit(main())
