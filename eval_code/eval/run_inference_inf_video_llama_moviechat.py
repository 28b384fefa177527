"""∞-Video (video_llama) on moviechat with the reference script's flags; see infvideo.eval.paper_scripts."""
import sys

from infvideo.eval.paper_scripts import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("video_llama", "moviechat", sys.argv[1:]))
