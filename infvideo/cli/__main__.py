"""``python -m infvideo.cli``: the ``infvideo`` command without its installed script."""

import sys

from infvideo.cli.main import main

sys.exit(main())
