"""∞-Video (video_llama) on egoschema with the reference script's flags; see infvideo.cli.paper."""

import sys

from infvideo.cli.paper import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("video_llama", "egoschema", sys.argv[1:]))
