"""the EgoSchema full-set submission; see infvideo.eval.paper_scripts.egoschema_submit_main."""
import sys

from infvideo.eval.paper_scripts import egoschema_submit_main

if __name__ == "__main__":
    sys.exit(egoschema_submit_main(sys.argv[1:]))
