"""∞-Video (video_llama) on video_mme with the reference script's flags; see infvideo.eval.paper_scripts."""
import sys

from infvideo.eval.paper_scripts import run_inference

if __name__ == "__main__":
    sys.exit(run_inference("video_llama", "video_mme", sys.argv[1:]))
