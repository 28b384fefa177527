"""∞-Video (videochat2) on egoschema with the reference script's flags; see infvideo.cli.paper."""

import sys

from infvideo.cli.paper import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("videochat2", "egoschema", sys.argv[1:]))
