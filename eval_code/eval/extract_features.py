"""Frame tokens for every video of a benchmark, once; see infvideo.cli.paper.extract_main."""

import sys

from infvideo.cli.paper import extract_main

if __name__ == "__main__":
    sys.exit(extract_main(sys.argv[1:]))
