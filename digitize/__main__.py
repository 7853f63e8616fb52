"""``python -m digitize`` runs the command line (:mod:`cli.main`), as the ``digitize`` script does.

An entry point, not a module of the kernel: nothing imports it, and it is the
one place under ``digitize/`` allowed to reach the edge (an ignored import of
the layers contract in ``pyproject.toml``).
"""

import sys

from cli.main import main

sys.exit(main())
