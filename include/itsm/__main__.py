"""`python -m include.itsm` is the `itsm` command."""

import sys

from include.itsm.cli import main

sys.exit(main())
