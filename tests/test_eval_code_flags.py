"""Every flag of every reference inference script means here what it means in the reference.

The flag lists are the ``parse_args`` functions of deep-spin/Infinite-Video at commit 908be51:
``infty-Video-LLaMA/eval_code/eval/run_inference_inf_video_llama_{nextqa,nextoe,egochema,moviechat,
video_mme}.py`` (lines 47–75 of each) and ``infty-VideoChat2/eval_code/run_{nextqa,egoschema,
moviechat,videomme}_mistral.py`` (lines 51–71). In all of them ``--sticky`` (and ``--baseline``,
``--event``) are ``action="store_true"``: absent means False, i.e. uniform memories — whatever our
YAML configs say (they say ``sticky: true``). Every other flag is ``required=True`` and sets one value.
"""

import pytest

from infvideo.cli.paper import inference_config

COMMON_VIDEO_LLAMA = [
    "--cfg-path",
    "--num-beams",
    "--temperature",
    "--video-folder",
    "--output-dir",
    "--max_int",
    "--sticky",
    "--num_basis",
    "--tau",
    "--alpha",
    "--options",
]
COMMON_VIDEOCHAT2 = [
    "--baseline",
    "--video-folder",
    "--data_path",
    "--output-dir",
    "--max_int",
    "--num_samples",
    "--sticky",
    "--num_basis",
    "--tau",
    "--alpha",
    "--options",
]
REFERENCE_FLAGS = {
    ("video_llama", "nextqa"): COMMON_VIDEO_LLAMA + ["--task", "--q-folder", "--event"],
    ("video_llama", "nextoe"): COMMON_VIDEO_LLAMA + ["--task", "--q-folder", "--event"],
    ("video_llama", "egoschema"): COMMON_VIDEO_LLAMA + ["--task", "--q-folder", "--a-folder", "--n_samples"],
    ("video_llama", "moviechat"): COMMON_VIDEO_LLAMA + ["--qa-folder", "--n_samples"],
    ("video_llama", "video_mme"): COMMON_VIDEO_LLAMA + ["--task", "--q-folder", "--n_samples"],
    ("videochat2", "nextqa"): COMMON_VIDEOCHAT2,
    ("videochat2", "egoschema"): COMMON_VIDEOCHAT2,
    ("videochat2", "moviechat"): COMMON_VIDEOCHAT2,
    ("videochat2", "video_mme"): COMMON_VIDEOCHAT2,
}
# flag -> (value given, config field, expected value)
VALUE_FLAGS = {
    "--num-beams": ("3", "generation.num_beams", 3),
    "--temperature": ("0.7", "generation.temperature", 0.7),
    "--video-folder": ("videos/here", "data.video_folder", "videos/here"),
    "--output-dir": ("out/there", "run.output_dir", "out/there"),
    "--max_int": ("12", "sampling.frames_per_chunk", 12),
    "--num_basis": ("77", "memory.num_basis", 77),
    "--tau": ("0.4", "memory.tau", 0.4),
    "--alpha": ("0.3", "model.alpha", 0.3),
    "--q-folder": ("q.csv", "data.annotations", "q.csv"),
    "--data_path": ("d.json", "data.annotations", "d.json"),
    "--qa-folder": ("qa/", "data.annotations", "qa/"),
    "--a-folder": ("subset.json", "data.answers", "subset.json"),
    "--n_samples": ("5", "sampling.num_chunks", 5),
    "--num_samples": ("6", "sampling.num_chunks", 6),
}


def field(config, dotted):
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


CASES = [(model, benchmark, flag) for (model, benchmark), flags in REFERENCE_FLAGS.items() for flag in flags]


@pytest.mark.parametrize(("model", "benchmark", "flag"), CASES, ids=lambda x: str(x))
def test_each_reference_flag_sets_what_it_sets_in_the_reference(model, benchmark, flag, tmp_path):
    base = inference_config(model, benchmark, [])
    if flag in VALUE_FLAGS:
        value, dotted, expected = VALUE_FLAGS[flag]
        config = inference_config(model, benchmark, [flag, value])
        assert field(config, dotted) == pytest.approx(expected) if isinstance(expected, float) else field(config, dotted) == expected
    elif flag == "--sticky":
        assert base.memory.sticky is False  # absent = uniform, as in the reference, though the YAML says sticky
        assert inference_config(model, benchmark, ["--sticky"]).memory.sticky is True
    elif flag == "--baseline":  # VideoChat2 without memory: one chunk of max_int frames
        config = inference_config(model, benchmark, ["--baseline", "--max_int", "16"])
        assert (config.model.alpha, config.sampling.num_chunks, config.sampling.frames_per_chunk) == (1.0, 1, 16)
        assert base.model.alpha < 1.0 or base.sampling.num_chunks > 1
    elif flag == "--task":
        assert inference_config(model, benchmark, ["--task", "inf_video_llama"]).model.alpha == base.model.alpha
        assert inference_config(model, benchmark, ["--task", "video_llama"]).model.alpha == 1.0  # No LTM
    elif flag == "--event":
        assert inference_config(model, benchmark, ["--event"]) == base  # accepted, unused, as in the reference
    elif flag == "--cfg-path":
        extra = tmp_path / "extra.yaml"
        extra.write_text("memory: {num_basis: 33}\n")
        assert inference_config(model, benchmark, ["--cfg-path", str(extra)]).memory.num_basis == 33
    elif flag == "--options":
        assert inference_config(model, benchmark, ["--options", "memory.ridge=0.25"]).memory.ridge == 0.25
    else:
        pytest.fail(f"no check for {flag}")


@pytest.mark.parametrize(("model", "benchmark"), list(REFERENCE_FLAGS))
def test_sticky_is_not_taken_from_the_yaml_when_the_flag_is_absent(model, benchmark):
    """Leaving out --sticky ran sticky memories (the YAML says sticky: true): an ablation flipped."""
    config = inference_config(model, benchmark, ["--num_basis", "64", "--tau", "0.75", "--alpha", "0.9"])
    assert config.memory.sticky is False
