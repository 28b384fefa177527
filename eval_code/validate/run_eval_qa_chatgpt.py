"""the Video-ChatGPT judge metrics (reference: gpt-3.5-turbo); see infvideo.cli.paper.judging_main."""

import sys

from infvideo.cli.paper import judging_main

if __name__ == "__main__":
    sys.exit(judging_main(sys.argv[1:]))
