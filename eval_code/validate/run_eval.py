"""accuracy per benchmark; see infvideo.cli.paper.accuracy_main."""

import sys

from infvideo.cli.paper import accuracy_main

if __name__ == "__main__":
    sys.exit(accuracy_main(sys.argv[1:]))
