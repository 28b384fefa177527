from infvideo.cli import main


def test_inspect_prints_full_size_parameter_counts(capsys):
    assert main(["inspect", "--model", "video_llama"]) == 0
    out = capsys.readouterr().out
    assert "language_model" in out and "6,738,415,616" in out
    assert "total" in out
    assert "eva_vit_g.pth" in out and "finetune-vicuna7b-v2.pth" in out


def test_inspect_videochat2(capsys):
    assert main(["inspect", "--model", "videochat2"]) == 0
    out = capsys.readouterr().out
    assert "language_model" in out and "7,241,732,096" in out and "vision_encoder" in out
    assert "videochat2_mistral_7b_stage3.pth" in out and "umt_l16_qformer.pth" in out
