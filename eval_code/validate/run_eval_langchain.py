"""free-text answers to option letters (reference: LangChain + Chroma + OpenAI embeddings); see infvideo.eval.paper_scripts.matching_main."""
import sys

from infvideo.eval.paper_scripts import matching_main

if __name__ == "__main__":
    sys.exit(matching_main(sys.argv[1:]))
