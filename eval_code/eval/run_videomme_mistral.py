"""∞-Video (videochat2) on video_mme with the reference script's flags; see infvideo.cli.paper."""

import sys

from infvideo.cli.paper import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("videochat2", "video_mme", sys.argv[1:]))
