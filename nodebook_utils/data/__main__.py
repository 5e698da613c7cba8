"""``python -m nodebook_utils.data``: print the status table, or ``--fetch NAME``."""

import sys

from .cli import main

sys.exit(main())
