import json

import torch

from infvideo.cli import main
from infvideo.demo.memory_demo import DemoConfig, run_memory_demo
from infvideo.memory import ContinuousMemory, MemoryTimeline


def test_uniform_timeline_is_the_geometric_contraction(projections):
    key, value = projections
    memory = ContinuousMemory(num_basis=64, tau=0.5, num_samples=256)
    timeline = MemoryTimeline(memory)
    for _ in range(3):
        memory.update(torch.randn(1, 8, 48))
        memory.read(torch.randn(1, 2, 48), key, value, 4)
        timeline.advance()
    # After 3 chunks with tau = 0.5: chunk 1 in [0, 0.25], chunk 2 in [0.25, 0.5], chunk 3 in [0.5, 1].
    memory_time = timeline.to_memory_time(torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5]))
    assert torch.allclose(memory_time, torch.tensor([0.125, 0.25, 0.375, 0.5, 0.75], dtype=torch.float64), atol=2e-3)
    edges = torch.linspace(0, 3, 31)
    density = timeline.density_over_video_time(edges)
    mass = density * (edges[1:] - edges[:-1])
    assert torch.allclose(mass.sum(-1), torch.ones(1), atol=1e-3)


def test_memory_demo_writes_its_outputs_and_sticky_keeps_the_events(tmp_path):
    metrics = run_memory_demo(tmp_path, DemoConfig(chunks=8, events=((1.3, 1.6), (5.2, 5.5))))
    for name in ("attention_density.png", "reconstruction_error.png", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    uniform, sticky = saved["samplers"]["uniform"], saved["samplers"]["sticky"]
    # Sticky memories give the attended events more of the samples: more mass stays on them.
    assert sticky["final_event_attention_mass"] > uniform["final_event_attention_mass"]
    assert uniform["state_numel"] == sticky["state_numel"]
    assert metrics["config"]["chunks"] == 8


def test_cli_memory_demo(tmp_path, capsys):
    assert main(["memory-demo", "--output-dir", str(tmp_path), "--chunks", "4"]) == 0
    assert (tmp_path / "metrics.json").exists()
    assert "sticky" in capsys.readouterr().out
