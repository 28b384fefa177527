"""What Video-LLaMA is fed on NExT-QA: the old 8 x 256 sampled frames against every frame in chunks of 256.

For video lengths typical of NExT-QA (30 fps) this prints, per mode, the frames fed to the vision
encoder, how many of them repeat an earlier frame, the chunks the memory reads (and the last chunk's
length), and the cost ratio all_frames / 8x256 of the frame stage (the vision encoder and the frame
Q-former run once per fed frame, so their cost is proportional to frames fed). The fp16 token column
is what the token cache stores per video (frames x 32 queries x 768, 2 bytes).

``cap 2048`` is a third reading of the reference: if its per-video ``.pt`` had been written like
``infty-Video-LLaMA/inference.py`` writes one (``load_video(n_frms=max_int * n_samples)``, i.e. the
``arange`` rule, capped at the video's length), the NExT-QA script would split min(F, ~2048) frames.

    python benchmarks/bench_nextqa_frames.py
    python benchmarks/bench_nextqa_frames.py --frames 300 900 1800 5400 --chunk 256

Pure index arithmetic with the project's own rules (no video, no model): instant, offline.
"""

from __future__ import annotations

import argparse

from infvideo.video.indices import RULES
from infvideo.video.stream import split_like_torch_split

TOKEN_BYTES = 32 * 768 * 2  # one frame's Q-former tokens in fp16 (the token cache)


def describe(chunks: list[list[int]]) -> dict:
    fed = [i for chunk in chunks for i in chunk]
    return {"fed": len(fed), "repeats": len(fed) - len(set(fed)), "chunks": len(chunks), "last": len(chunks[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="*", default=[300, 600, 900, 1200, 1500, 2047, 2048, 2400, 3000, 4500, 6000])
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--num-chunks", type=int, default=8)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    size, count = args.chunk, args.num_chunks
    header = (
        f"{'frames':>6} {'sec':>5} | {f'{count}x{size} uniform':^24} | {'all_frames':^24} | {'cap 2048':^9} | "
        f"{'cost':>5} {'tokens MiB':>10}"
    )
    print(header)
    print(
        f"{'':>6} {'':>5} | {'fed':>6} {'repeats':>7} {'chunks':>6} {'':>2} | {'fed':>6} {'chunks':>6} {'last':>9} | "
        f"{'chunks':>9} | {'ratio':>5} {'old/new':>10}"
    )
    for frames in args.frames:
        old = describe(RULES["uniform"].chunks(frames, size, count))
        new = describe(RULES["all_frames"].chunks(frames, size, count))
        capped = describe(split_like_torch_split(RULES["arange"](frames, size * count), size))
        mib = f"{old['fed'] * TOKEN_BYTES / 2**20:.0f}/{new['fed'] * TOKEN_BYTES / 2**20:.0f}"
        print(
            f"{frames:>6} {frames / args.fps:>5.0f} | {old['fed']:>6} {old['repeats']:>7} {old['chunks']:>6} {'':>2} | "
            f"{new['fed']:>6} {new['chunks']:>6} {new['last']:>9} | {capped['chunks']:>4} ({capped['last']:>3}) | "
            f"{new['fed'] / old['fed']:>5.2f} {mib:>10}"
        )


if __name__ == "__main__":
    main()
