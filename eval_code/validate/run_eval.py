"""accuracy per benchmark; see infvideo.eval.paper_scripts.accuracy_main."""
import sys

from infvideo.eval.paper_scripts import accuracy_main

if __name__ == "__main__":
    sys.exit(accuracy_main(sys.argv[1:]))
