"""free-text answers to option letters (reference: LangChain + Chroma + OpenAI embeddings); see infvideo.cli.paper.matching_main."""

import sys

from infvideo.cli.paper import matching_main

if __name__ == "__main__":
    sys.exit(matching_main(sys.argv[1:]))
