import pytest

from infvideo.eval.config import PredictConfig, config_hash, load_config, run_name, to_yaml
from infvideo.eval.environment import environment


def test_defaults_yaml_flags_and_overrides_merge_in_order(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: videochat2\nmemory:\n  num_basis: 64\nsampling:\n  frames_per_chunk: 8\n")
    config = load_config(
        path, overrides=["memory.tau=0.5", "sampling.frames_per_chunk=32"], flags={"max_int": 16, "sticky": True, "alpha": 0.9}
    )
    assert isinstance(config, PredictConfig)
    assert config.model.name == "videochat2" and config.memory.num_basis == 64
    assert config.sampling.frames_per_chunk == 32  # the dotlist wins over the paper flag
    assert config.memory.sticky and config.model.alpha == 0.9 and config.memory.tau == 0.5


def test_type_errors_are_reported():
    with pytest.raises(Exception, match="tau"):
        load_config(overrides=["memory.tau=abc"])


def test_run_name_reads_like_the_reference_and_hash_ignores_where_outputs_go():
    config = load_config(flags={"max_int": 256, "num_samples": 8, "num_basis": 1024, "tau": 0.75, "alpha": 0.9, "sticky": True})
    name = run_name(config)
    assert name.startswith("video_llama_nframes_256_nchunks_8_nbasis_1024_sticky_tau_0.75_alpha_0.9_")
    moved = load_config(
        flags={"max_int": 256, "num_samples": 8, "num_basis": 1024, "tau": 0.75, "alpha": 0.9, "sticky": True, "output_dir": "/elsewhere"}
    )
    assert config_hash(moved) == config_hash(config)
    assert config_hash(load_config(overrides=["memory.tau=0.5"])) != config_hash(load_config())
    no_ltm = load_config(flags={"alpha": 1.0})
    assert "nbasis" not in run_name(no_ltm) and "alpha_1" in run_name(no_ltm)
    assert "memory:" in to_yaml(config)


def test_environment_record():
    env = environment()
    assert env["packages"]["torch"] and env["python"].startswith("3.")


def test_an_all_frames_run_is_named_and_hashed_without_the_chunk_count_it_ignores():
    eight = load_config(overrides=["sampling.rule=all_frames", "sampling.num_chunks=8", "sampling.frames_per_chunk=256"])
    four = load_config(overrides=["sampling.rule=all_frames", "sampling.num_chunks=4", "sampling.frames_per_chunk=256"])
    assert "nframes_256_nchunks_all" in run_name(eight) and run_name(eight) == run_name(four)
    sampled = load_config(overrides=["sampling.num_chunks=4"])
    assert "nchunks_4" in run_name(sampled) and config_hash(sampled) != config_hash(load_config(overrides=["sampling.num_chunks=8"]))


def test_speed_settings_resume_the_same_run_and_numerics_settings_do_not():
    base = config_hash(load_config())
    for override in (
        "generation.batch_questions=false",
        "generation.cache=static",
        "model.vision_batch_size=64",
        "sampling.decode_workers=2",
    ):
        assert config_hash(load_config(overrides=[override])) == base, override
    assert config_hash(load_config(overrides=["model.qformer_precision=float32"])) != base  # different numbers on a GPU


def test_shipped_configs_resolve_by_name_and_a_path_still_works(tmp_path, capsys):
    from infvideo.cli import main
    from infvideo.configs import listing, resolve

    assert "video_llama/nextqa" in listing() and "protocol/paper" in listing() and "memory_bench/default" in listing()
    by_name = load_config(["video_llama/nextqa", "memory/uniform"])
    assert by_name.model.name == "video_llama" and by_name.memory.sticky is False
    assert load_config("eval_configs/video_llama/nextqa.yaml") == load_config("video_llama/nextqa.yaml")  # the old spelling
    mine = tmp_path / "video_llama" / "nextqa.yaml"  # a real path wins over a shipped name
    mine.parent.mkdir()
    mine.write_text("memory: {num_basis: 7}\n")
    assert resolve(mine) == mine and load_config(mine).memory.num_basis == 7
    with pytest.raises(Exception, match="neither as a path nor among the shipped configs"):
        load_config("video_llama/nextqaa")
    assert main(["configs"]) == 0 and "sweeps/tiny_nextqa" in capsys.readouterr().out
