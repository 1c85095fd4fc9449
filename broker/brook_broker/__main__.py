"""``python -m brook_broker``: the same as the `brook` command."""

import sys

from brook_broker.cli.main import main

sys.exit(main())
