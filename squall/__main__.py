"""``python -m squall MODULE:ATTRIBUTE [options]``: serve an application.

``python -m squall --help`` lists the options; docs/deploy.md explains them.
"""

import sys

from squall._runner import main

if __name__ == "__main__":
    sys.exit(main())
