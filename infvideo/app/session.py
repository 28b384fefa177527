"""The app's core, shared by the browser page (``web.py``) and the terminal (``chat.py``); no UI here.

One ``AppSession`` holds one loaded model (``Backend``, built once from a run config) and one video.
``load`` decodes and encodes the video once, chunk by chunk as ``predict`` does (``runner.encode_video``,
with the token cache), reporting progress per chunk. ``ask`` then runs only the memory and the answer
for each question: new memory settings go to the loaded model through ``Backend.reconfigure`` (as in a
sweep), so the vision encoder never runs again for the same video. ``encoder_calls`` counts the vision
encoder's chunk forwards, which the page shows and the tests read.

Every answer comes with the memory's attention density over video time after each chunk
(``plots.attention_over_video_time``, the report's figure) and thumbnails of the frames at its peaks.
Uploads and figures live in one temporary folder removed by ``close``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from infvideo.data.record import OPTION_LETTERS, QuestionRecord
from infvideo.demo.pipeline_demo import DEMO_MODEL
from infvideo.errors import UserError
from infvideo.eval.backends import Backend
from infvideo.eval.config import FLAG_FIELDS, PredictConfig, load_config
from infvideo.eval.plots import attention_over_video_time, plot_attention_density
from infvideo.eval.runner import encode_video, sample_chunks
from infvideo.eval.seeding import question_generator
from infvideo.eval.token_cache import TokenCache
from infvideo.eval.validation import validate_config
from infvideo.memory.factory import MEMORY_KINDS
from infvideo.video.metadata import VideoDecodeError, VideoMetadata
from infvideo.video.source import open_video

# Without --config: the demo's tiny random-weight model and memory, so `infvideo app` starts in seconds on any CPU.
APP_DEFAULTS = DEMO_MODEL
TINY_NOTICE = (
    "This is the tiny preset: a random-weight model, so its answers are noise. The memory's attention is real; "
    "for real answers start the app with a full model's config (`infvideo app --config video_llama/nextqa model.checkpoints...`)."
)
MAX_UPLOAD_BYTES = 2 * 1024**3  # the default upload limit (2 GiB); `infvideo app --max-upload-mb` changes it
PEAKS = 4  # thumbnails per answer
BINS_PER_CHUNK = 32  # density resolution (as the report's figure)

log = logging.getLogger(__name__)


def app_config(config_files: Sequence[str] | None = None, overrides: Sequence[str] = (), flags: dict | None = None) -> PredictConfig:
    """The run config of an app or chat session: the given files (as ``predict`` reads them), else the
    tiny defaults; then the reference's flags (``FLAG_FIELDS``), then dotlist overrides. Checked whole
    now, before a model is built."""
    defaults = [] if config_files else APP_DEFAULTS
    flagged = [f"{FLAG_FIELDS[name]}={value}" for name, value in (flags or {}).items() if value is not None]
    config = load_config(list(config_files or []), [*defaults, *flagged, *overrides])
    validate_config(config, data=False)
    return config


@dataclass(frozen=True)
class MemoryControls:
    """The memory settings the page and ``:set`` change; everything else stays as the run config says."""

    kind: str
    tau: float
    alpha: float
    num_basis: int
    sticky: bool

    @classmethod
    def of(cls, config: PredictConfig) -> MemoryControls:
        m = config.memory
        return cls(m.kind, float(m.tau), float(config.model.alpha), int(m.num_basis), bool(m.sticky))

    def applied_to(self, config: PredictConfig) -> PredictConfig:
        """``config`` with these settings, checked as ``predict`` checks a run config (a bad value is a UserError)."""
        if self.kind not in MEMORY_KINDS:
            raise UserError(f"memory kind {self.kind!r} is not one of {', '.join(MEMORY_KINDS)}")
        memory = dataclasses.replace(config.memory, kind=self.kind, tau=float(self.tau), num_basis=int(self.num_basis), sticky=self.sticky)
        new = dataclasses.replace(config, memory=memory, model=dataclasses.replace(config.model, alpha=float(self.alpha)))
        validate_config(new, data=False)
        return new

    def label(self) -> str:
        if self.alpha >= 1:
            return "no long-term memory (alpha = 1)"
        if self.kind != "continuous":
            return f"{self.kind} memory, alpha {self.alpha:g}"
        sampling = "sticky" if self.sticky else "uniform"
        return f"continuous memory, {sampling}, tau {self.tau:g}, N {self.num_basis}, alpha {self.alpha:g}"


class CountingBackend(Backend):
    """A ``Backend`` that counts its vision-encoder forwards (one per chunk) and reports each one."""

    def __init__(self, config: PredictConfig) -> None:
        super().__init__(config)
        self.encoder_calls = 0
        self.on_chunk: Callable[[], None] | None = None

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        # encode_chunk goes through here too, so every encoder forward is counted once
        tokens = super().encode_pixels(pixels)
        self.encoder_calls += 1
        if self.on_chunk is not None:
            self.on_chunk()
        return tokens


@dataclass
class LoadedVideo:
    path: Path
    name: str
    metadata: VideoMetadata
    chunks: list[list[int]]  # the sampled frame indices of each encoded chunk
    tokens: list[torch.Tensor]
    seconds: float  # decoding + encoding (or reading the cache)
    cached: bool  # the tokens came from the token cache

    def describe(self) -> str:
        frames = sum(len(c) for c in self.chunks)
        how = "read from the token cache" if self.cached else f"decoded and encoded in {self.seconds:.1f} s"
        return (
            f"{self.name}: {self.metadata.duration:.0f} s at {self.metadata.fps:.3g} fps; "
            f"{frames} frames in {len(self.chunks)} chunks, {how}"
        )


@dataclass
class Peak:
    """A frame where the memory's final attention density peaks."""

    frame: int
    seconds: float
    weight: float  # the density there, relative to the highest peak
    image: np.ndarray  # uint8 [h, w, 3]

    def caption(self) -> str:
        minutes, seconds = divmod(self.seconds, 60)
        return f"{int(minutes)}:{seconds:04.1f} (frame {self.frame}, {self.weight:.0%})"


@dataclass
class Reply:
    question: str
    answer: str
    controls: MemoryControls
    letter: str | None = None  # the chosen option's letter (multiple choice)
    option: str | None = None  # its text
    method: str | None = None  # how the letter was found: parsed (the model said it) | embedding (nearest option) | none
    figure: Path | None = None  # attention density over video time after each chunk
    density: torch.Tensor | None = None
    peaks: list[Peak] = field(default_factory=list)
    note: str | None = None  # why there is no figure
    seconds: float = 0.0

    def chosen(self) -> str | None:
        return None if self.letter is None else f"({self.letter}) {self.option}"


class AppSession:
    """One model, one video at a time, any number of questions; ``close`` (or ``with``) removes its files."""

    def __init__(self, config: PredictConfig, max_upload_bytes: int = MAX_UPLOAD_BYTES, figure_dir: str | Path | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="infvideo-app-"))
        try:
            self.backend = CountingBackend(config)
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.max_upload_bytes = max_upload_bytes
        self.uploads = self.workdir / "uploads"
        self.figures = Path(figure_dir) if figure_dir else self.workdir / "figures"
        # the run's token cache when it names one (shared with predict/extract), else one for this session only
        folder = config.run.token_cache or self.workdir / "tokens"
        self.cache = TokenCache(folder, self.backend.vision_signature())
        self.video: LoadedVideo | None = None
        self._matcher = None
        self._asked = 0
        self._demo: Path | None = None

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> AppSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def config(self) -> PredictConfig:
        return self.backend.config

    @property
    def encoder_calls(self) -> int:
        return self.backend.encoder_calls

    @property
    def is_tiny(self) -> bool:
        return self.config.model.preset == "tiny"

    def controls(self) -> MemoryControls:
        return MemoryControls.of(self.config)

    # -- videos ------------------------------------------------------------------------------
    def demo_video(self) -> Path:
        """The bundled synthetic video (``infvideo demo-data``), written once per session."""
        if self._demo is None:
            from infvideo.demo.synthetic_data import write_demo_data

            self._demo = write_demo_data(self.workdir / "demo").video
        return self._demo

    def accept_upload(self, path: str | Path, name: str | None = None) -> Path:
        """A copy of an uploaded file in this session's upload folder, after the size check."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{name or path.name}: the upload did not arrive (no file)")
        size = path.stat().st_size
        if size > self.max_upload_bytes:
            raise UserError(
                f"{name or path.name}: {size / 1024**2:.0f} MiB is over the upload limit of {self.max_upload_bytes / 1024**2:.0f} MiB"
            )
        self.uploads.mkdir(parents=True, exist_ok=True)
        for old in self.uploads.iterdir():  # one video at a time: the last upload is all we keep
            old.unlink(missing_ok=True)
        target = self.uploads / Path(name or path.name).name
        shutil.copyfile(path, target)
        return target

    def load(self, path: str | Path, progress: Callable[[int, int], None] | None = None, name: str | None = None) -> LoadedVideo:
        """Decode and encode ``path`` once (or read its cached tokens); ``progress(done, total)`` per chunk.
        A file that is not a readable video is a ``UserError`` with the decoder's reason; the session
        keeps its previous video then."""
        path = Path(path)
        display = name or path.name
        start = time.perf_counter()
        try:
            with open_video(str(path), self.config.sampling.backend) as source:
                metadata = source.metadata
            plan = [c for c in sample_chunks(self.config, metadata.num_frames) if len(c)]
            if not plan:
                raise VideoDecodeError(f"{path}: no frames to sample")
            record = self._record(path, "")
            calls_before = self.encoder_calls
            self.backend.on_chunk = None if progress is None else lambda: progress(self.encoder_calls - calls_before, len(plan))
            try:
                tokens = encode_video(self.config, self.backend, record, self.cache)
            finally:
                self.backend.on_chunk = None
        except UserError:
            raise
        except Exception as error:  # whatever the decoder says about an upload, the page shows it and keeps serving
            log.debug("loading %s failed", path, exc_info=True)
            reason = str(error).replace(str(path), display)
            raise UserError(f"{display} is not a video this app can read: {reason}") from error
        self.video = LoadedVideo(path, display, metadata, plan, tokens, time.perf_counter() - start, self.encoder_calls == calls_before)
        return self.video

    # -- questions ---------------------------------------------------------------------------
    def ask(self, question: str, options: Sequence[str] = (), controls: MemoryControls | None = None) -> Reply:
        """Answer ``question`` about the loaded video with ``controls`` (default: the current settings).
        Runs the memory and the LLM only; the frame tokens are reused."""
        if self.video is None:
            raise UserError("load a video first (the demo video or an upload)")
        question = question.strip()
        if not question:
            raise UserError("ask a question (the text box is empty)")
        options = [o.strip() for o in options if o.strip()]
        if len(options) == 1 or len(options) > len(OPTION_LETTERS):
            raise UserError(f"give no options (an open question) or 2 to {len(OPTION_LETTERS)} options, not {len(options)}")
        controls = controls or self.controls()
        if controls != self.controls():
            self.backend.reconfigure(controls.applied_to(self.config))
        start = time.perf_counter()
        self._asked += 1
        record = self._record(self.video.path, question, tuple(options))
        seed = self.config.run.seed
        with torch.inference_mode():
            visual = self.backend.embed(self.video.tokens, record, question_generator(seed, record.id))
            answer = self.backend.answer(visual, record, self.config.generation, seed)
        reply = Reply(question, answer.prediction, controls)
        if options:
            self._choose(reply, answer.parsed, options)
        self._attention(reply, record)
        reply.seconds = time.perf_counter() - start
        return reply

    def _record(self, path: Path, question: str, options: tuple[str, ...] = ()) -> QuestionRecord:
        # The prompts of a benchmark that shows options (Video-MME) or of open questions about a long video (MovieChat-1K):
        # every family has both (models/*/prompts.py).
        task = "video_mme" if options else "moviechat"
        return QuestionRecord(
            id=f"app-{self._asked}", dataset=task, video_id=path.stem, video_path=str(path), question=question, options=options
        )

    def _choose(self, reply: Reply, parsed: str | None, options: list[str]) -> None:
        """The option the answer stands for: the family's parsed letter, else the nearest option by the
        run protocol's matcher (``match``'s rule; built on the first free-text answer)."""
        if parsed and parsed in OPTION_LETTERS[: len(options)]:
            reply.letter, reply.method = parsed, "parsed"
        elif reply.answer.strip():
            if self._matcher is None:
                from infvideo.eval.matching import OptionMatcher, build_embeddings

                self._matcher = OptionMatcher(build_embeddings(self.config.protocol.matcher), first_four=False)
            reply.letter, reply.method = self._matcher.match(reply.answer, options), "embedding"
        else:
            reply.method = "none"
        if reply.letter is not None:
            reply.option = options[OPTION_LETTERS.index(reply.letter)]

    def _attention(self, reply: Reply, record: QuestionRecord) -> None:
        """The density figure and the peak thumbnails; a memory without a density over time gets a note."""
        if reply.controls.alpha >= 1 or reply.controls.kind == "none":
            why = "alpha = 1" if reply.controls.alpha >= 1 else "memory kind none"
            reply.note = f"{why}: no long-term memory, so nothing to show over video time"
            return
        generator = question_generator(self.config.run.seed, record.id)  # the same sticky draws as the answer's memory
        try:
            density = attention_over_video_time(self.backend, record, self.video.tokens, generator, BINS_PER_CHUNK)
        except ValueError:
            reply.note = f"the {reply.controls.kind} memory keeps tokens, not a density over time: no figure"
            return
        reply.density = density
        self.figures.mkdir(parents=True, exist_ok=True)
        title = f"{self.video.name}: {reply.controls.label()}\nwhere the memory looked, after each chunk (layer 1)"
        reply.figure = plot_attention_density(density, self.figures / f"attention-{self._asked}.png", title)
        reply.peaks = self._peaks(density[-1])

    def _peaks(self, final: torch.Tensor) -> list[Peak]:
        """Thumbnails of the frames under the highest local maxima of the final density."""
        video = self.video
        bins = peak_bins(final, PEAKS, BINS_PER_CHUNK // 2)
        if not bins:
            return []
        frames = [peak_frame(video.chunks, b, BINS_PER_CHUNK) for b in bins]
        wanted = sorted(set(frames))
        with open_video(str(video.path), self.config.sampling.backend) as source:
            images = dict(zip(wanted, source.get_frames(wanted)))
        top = float(final.max()) or 1.0
        fps = video.metadata.fps or 1.0
        return [Peak(frame, frame / fps, float(final[b]) / top, images[frame]) for frame, b in sorted(zip(frames, bins))]


def peak_bins(density: torch.Tensor, count: int, separation: int) -> list[int]:
    """Up to ``count`` bins of the highest local maxima of a 1-D density, at least ``separation`` bins
    apart, highest first; a flat density has none, and the floor is never a peak."""
    values = density.float()
    if values.numel() == 0 or float(values.max() - values.min()) <= 1e-12 * max(float(values.abs().max()), 1e-30):
        return []
    left = torch.cat([values.new_tensor([-float("inf")]), values[:-1]])
    right = torch.cat([values[1:], values.new_tensor([-float("inf")])])
    maxima = torch.nonzero((values >= left) & (values >= right) & (values > values.min())).flatten().tolist()
    chosen: list[int] = []
    for index in sorted(maxima, key=lambda i: -float(values[i])):
        if all(abs(index - other) >= separation for other in chosen):
            chosen.append(index)
        if len(chosen) == count:
            break
    return chosen


def peak_frame(chunks: list[list[int]], bin_index: int, bins_per_chunk: int) -> int:
    """The sampled frame under a density bin: chunk c covers video time [c, c + 1) (the figure's axis),
    its frames evenly."""
    bin_index = min(bin_index, len(chunks) * bins_per_chunk - 1)
    chunk = bin_index // bins_per_chunk
    within = (bin_index % bins_per_chunk + 0.5) / bins_per_chunk
    frames = chunks[chunk]
    return int(frames[min(int(within * len(frames)), len(frames) - 1)])
