"""``python -m digitize`` runs the command line."""

import sys

from digitize.cli import main

sys.exit(main())
