import pytest
import torch

from infvideo.memory import ContinuousMemory, Memory
from infvideo.memory.sampling import uniform_sample_times


def stream(memory, chunks, projections, batch=1, length=8, queries=5, seed=0):
    key, value = projections
    g = torch.Generator().manual_seed(seed)
    outputs = []
    for _ in range(chunks):
        memory.update(torch.randn(batch, length, 48, generator=g))
        outputs.append(memory.read(torch.randn(batch, queries, 48, generator=g), key, value, 4))
    return outputs


def test_implements_the_memory_interface():
    assert isinstance(ContinuousMemory(num_basis=8), Memory)


def test_first_chunk_of_one_frame_is_a_shrunk_copy():
    for compat in (False, True):
        memory = ContinuousMemory(num_basis=16, reference_compat=compat)
        x = torch.randn(1, 1, 48)
        memory.update(x)
        assert torch.allclose(memory.coefficients[0, 8], x[0, 0] * 2 / 3)
        assert memory.coefficients.abs().sum() == pytest.approx(x.abs().sum().item() * 2 / 3, rel=1e-5)


def test_contraction_puts_old_content_below_tau_and_new_above():
    memory = ContinuousMemory(num_basis=64, tau=0.75, num_samples=256)
    a, b = torch.zeros(48), torch.zeros(48)
    a[0], b[1] = 1.0, 1.0
    memory.update(a.expand(1, 64, 48))  # one frame per box, so no old box is empty
    memory.update(b.expand(1, 16, 48))
    B = memory.coefficients[0]
    assert (B[:48, 1] == 0).all() and (B[:48, 0] > 0).all()
    assert (B[48:, 0] == 0).all() and (B[48:, 1] > 0).all()


def test_uniform_resampling_reproduces_a_piecewise_constant_memory():
    memory = ContinuousMemory(num_basis=64, tau=0.5, num_samples=128)
    memory.update(torch.randn(1, 64, 48))
    old = memory.coefficients.clone()
    read = memory.basis.reconstruct(old, uniform_sample_times(128))
    assert torch.equal(read, old.repeat_interleave(2, dim=1))
    memory.update(torch.randn(1, 8, 48))
    # Each of the 32 old boxes now holds the 4 samples of previous boxes 2k and 2k+1: (2a + 2b)/4.5.
    expected = (2 * old[0, 0::2] + 2 * old[0, 1::2]) / 4.5
    assert torch.allclose(memory.coefficients[0, :32], expected, atol=1e-6)


def test_state_size_is_constant_and_a_thousand_chunks_stay_finite(projections):
    memory = ContinuousMemory(num_basis=32, num_samples=64, sticky=True, generator=torch.Generator().manual_seed(0))
    key, value = projections
    sizes = []
    for step in range(1000):
        memory.update(torch.randn(2, 4, 48))
        context = memory.read(torch.randn(2, 3, 48), key, value, 4)
        if step in (1, 10, 999):
            sizes.append(memory.state_numel())
    assert len(set(sizes)) == 1
    assert torch.isfinite(context).all() and torch.isfinite(memory.coefficients).all()


def test_sticky_is_deterministic_under_a_generator(projections):
    def run(seed):
        memory = ContinuousMemory(num_basis=32, num_samples=64, sticky=True, generator=torch.Generator().manual_seed(seed))
        return stream(memory, 4, projections)[-1]

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_sticky_follows_the_previous_attention(projections):
    key, value = projections
    memory = ContinuousMemory(num_basis=64, num_samples=512, sticky=True, generator=torch.Generator().manual_seed(0))
    x = torch.randn(1, 64, 48) * 0.1
    x[0, 40:48] += 5 * torch.randn(48)  # a salient event in [0.625, 0.75)
    memory.update(x)
    query = 3 * key(x[:, 40:48].mean(1, keepdim=True)).detach()
    memory.read(query, key, value, 4)
    memory.update(torch.randn(1, 8, 48))
    times = memory.last_sample_times[0]
    assert (times[1:] >= times[:-1]).all()
    share = ((times >= 0.625) & (times < 0.75)).float().mean()
    assert share > 0.5  # far more than the uniform 1/8


def test_batch_items_are_independent(projections):
    g = torch.Generator().manual_seed(3)
    chunks = [torch.randn(2, 8, 48, generator=g) for _ in range(3)]
    queries = [torch.randn(2, 5, 48, generator=g) for _ in range(3)]
    key, value = projections
    together = ContinuousMemory(num_basis=32, num_samples=64)
    outs = [together.update(c) or together.read(q, key, value, 4) for c, q in zip(chunks, queries)]
    for item in range(2):
        alone = ContinuousMemory(num_basis=32, num_samples=64)
        outs_alone = [alone.update(c[item : item + 1]) or alone.read(q[item : item + 1], key, value, 4) for c, q in zip(chunks, queries)]
        assert torch.allclose(outs[-1][item], outs_alone[-1][0], atol=1e-6)
    sticky = ContinuousMemory(num_basis=32, num_samples=64, sticky=True, generator=torch.Generator().manual_seed(0))
    for c, q in zip(chunks, queries):
        sticky.update(c)
        sticky.read(q, key, value, 4)
    assert not torch.equal(sticky.last_sample_times[0], sticky.last_sample_times[1])


@pytest.mark.parametrize("length", [1, 3, 8, 17])
@pytest.mark.parametrize("compat", [False, True])
def test_any_chunk_length_works(length, compat, projections):
    memory = ContinuousMemory(num_basis=16, num_samples=32, sticky=True, reference_compat=compat)
    torch.manual_seed(0)
    outputs = stream(memory, 3, projections, length=length)
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("compat", [False, True])
def test_constants_first_built_in_inference_mode_serve_autograd_later(compat, projections):
    """The designs and grids are cached; when a run under torch.inference_mode built them first, a later
    run recorded by autograd (the projections' weights require grad) failed with "Inference tensors
    cannot be saved for backward"."""
    shape = dict(num_basis=23, num_samples=32, sticky=True, reference_compat=compat)  # sizes no other test caches
    with torch.inference_mode():
        stream(ContinuousMemory(**shape), 3, projections, length=5)
    outputs = stream(ContinuousMemory(**shape), 3, projections, length=5)
    assert outputs[-1].requires_grad and torch.isfinite(outputs[-1]).all()
    outputs[-1].sum().backward()
    assert all(torch.isfinite(p.grad).all() for layer in projections for p in layer.parameters())


@pytest.mark.parametrize("attention,basis", [("gaussian", "gaussian"), ("gaussian", "rectangular"), ("gibbs", "gaussian")])
def test_other_attentions_and_bases_run(attention, basis, projections):
    memory = ContinuousMemory(
        num_basis=32, num_samples=64, attention=attention, basis=basis, sticky=True, generator=torch.Generator().manual_seed(0)
    )
    outputs = stream(memory, 3, projections)
    assert outputs[-1].shape == (1, 5, 48) and torch.isfinite(outputs[-1]).all()
    assert memory.density(torch.linspace(0, 1, 11)).shape == (1, 11)


def test_half_precision_layers_get_their_dtype_back():
    key = torch.nn.Linear(48, 48).to(torch.bfloat16)
    memory = ContinuousMemory(num_basis=16, num_samples=32)
    memory.update(torch.randn(1, 8, 48, dtype=torch.bfloat16))
    context = memory.read(torch.randn(1, 5, 48, dtype=torch.bfloat16), key, key, 4)
    assert context.dtype == torch.bfloat16 and memory.coefficients.dtype == torch.float32


def test_bad_input_and_misuse_give_clear_errors(projections):
    key, value = projections
    memory = ContinuousMemory(num_basis=16)
    with pytest.raises(RuntimeError, match="empty"):
        memory.read(torch.randn(1, 5, 48), key, value, 4)
    bad = torch.randn(1, 8, 48)
    bad[0, 3, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        memory.update(bad)
    with pytest.raises(ValueError, match="batch, frames, width"):
        memory.update(torch.randn(8, 48))
    memory.update(torch.randn(1, 8, 48))
    with pytest.raises(ValueError, match="batch changed"):
        memory.update(torch.randn(2, 8, 48))
    with pytest.raises(ValueError, match="tau"):
        ContinuousMemory(tau=1.0)
    with pytest.raises(ValueError, match="reference_compat"):
        ContinuousMemory(attention="gaussian", reference_compat=True)


def test_reset_forgets_everything(projections):
    memory = ContinuousMemory(num_basis=16, num_samples=32)
    stream(memory, 2, projections)
    memory.reset()
    assert memory.coefficients is None and memory.last_attention is None and memory.chunks_seen == 0
    assert memory.state_numel() == 0


@pytest.mark.parametrize("compat", [False, True], ids=["exact", "reference_compat"])
def test_attention_over_video_time_equals_a_timeline_advanced_after_every_chunk(projections, compat):
    """The memory brings its own timeline up to date only when asked, from what each update recorded."""
    from infvideo.memory import MemoryTimeline

    key, value = projections
    memory = ContinuousMemory(num_basis=32, num_samples=64, tau=0.6, sticky=True, reference_compat=compat)
    memory.reset(torch.Generator().manual_seed(4))
    watched = MemoryTimeline(memory)
    edges = torch.linspace(0, 5, 41)
    for index in range(5):
        memory.update(torch.randn(1, 6, 48, generator=torch.Generator().manual_seed(index)))
        memory.read(torch.randn(1, 3, 48, generator=torch.Generator().manual_seed(10 + index)), key, value, 4)
        watched.advance()
        if index == 1:  # asked midway, then again at the end: no update is placed twice or missed
            torch.testing.assert_close(memory.attention_over_video_time(edges), watched.density_over_video_time(edges)[0])
    torch.testing.assert_close(memory.attention_over_video_time(edges), watched.density_over_video_time(edges)[0])
    memory.reset()
    memory.update(torch.randn(1, 6, 48))
    memory.read(torch.randn(1, 3, 48), key, value, 4)
    fresh = MemoryTimeline(memory)
    fresh.advance()
    torch.testing.assert_close(memory.attention_over_video_time(edges), fresh.density_over_video_time(edges)[0])
