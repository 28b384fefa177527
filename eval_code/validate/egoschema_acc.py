"""the EgoSchema full-set submission; see infvideo.cli.paper.egoschema_submit_main."""

import sys

from infvideo.cli.paper import egoschema_submit_main

if __name__ == "__main__":
    sys.exit(egoschema_submit_main(sys.argv[1:]))
