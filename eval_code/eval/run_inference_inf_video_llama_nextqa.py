"""∞-Video (video_llama) on nextqa with the reference script's flags; see infvideo.eval.paper_scripts."""
import sys

from infvideo.eval.paper_scripts import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("video_llama", "nextqa", sys.argv[1:]))
