"""the Video-ChatGPT judge metrics (reference: gpt-3.5-turbo); see infvideo.eval.paper_scripts.judging_main."""
import sys

from infvideo.eval.paper_scripts import judging_main

if __name__ == "__main__":
    sys.exit(judging_main(sys.argv[1:]))
