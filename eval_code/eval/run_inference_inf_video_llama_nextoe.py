"""∞-Video (video_llama) on nextoe with the reference script's flags; see infvideo.cli.paper."""

import sys

from infvideo.cli.paper import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("video_llama", "nextoe", sys.argv[1:]))
