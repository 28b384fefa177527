"""Frame tokens for every video of a benchmark, once; see infvideo.eval.paper_scripts.extract_main."""
import sys

from infvideo.eval.paper_scripts import extract_main

if __name__ == "__main__":
    sys.exit(extract_main(sys.argv[1:]))
