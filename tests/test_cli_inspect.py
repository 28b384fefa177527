from infvideo.cli import main


def test_inspect_prints_full_size_parameter_counts(capsys):
    assert main(["inspect", "--model", "video_llama"]) == 0
    out = capsys.readouterr().out
    assert "language_model" in out and "6,738,415,616" in out
    assert "total" in out
