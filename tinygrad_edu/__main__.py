"""``python -m tinygrad_edu`` runs the ``tinygrad-edu`` command."""

import sys

from .cli import main

sys.exit(main())
