"""``python -m custrel`` runs the ``custrel`` command."""

import sys

from custrel.cli import main

sys.exit(main())
