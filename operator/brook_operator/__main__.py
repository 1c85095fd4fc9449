"""`python -m brook_operator` is `brook-operator`."""

import sys

from brook_operator.cli import main

sys.exit(main())
