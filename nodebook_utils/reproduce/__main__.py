"""``python -m nodebook_utils.reproduce``: see :mod:`nodebook_utils.reproduce`."""

import sys

from . import main

sys.exit(main())
