"""Generate golden numbers from the authors' reference LTM (deep-spin/Infinite-Video).

This script does NOT contain reference code. It imports the upstream module
``long_term_attention_gibbs.py`` (and its sibling ``basis_functions.py``) from a
user-given directory, feeds it deterministic inputs and stores the outputs.

Usage:
    python tests/golden/make_reference_ltm.py \
        --ref-dir /path/to/Infinite-Video/infty-Video-LLaMA/InfVideoLLaMA/models \
        --out tests/golden/reference_ltm.pt

The upstream module pickles densities to ``./alphas_uniform`` on every forward
call, so the forward calls are run with the working directory set to a
temporary directory (removed afterwards).

See tests/golden/README.md for the input protocol.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import types

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

REF_COMMIT = "908be519dc63c1b7961795bd46264e71d1736331"
REF_REPO = "deep-spin/Infinite-Video"
REF_FILE = "infty-Video-LLaMA/InfVideoLLaMA/models/long_term_attention_gibbs.py"

WIDTH = 768
HEADS = 12
HEAD_DIM = 64
TOKENS_PER_FRAME = 32

# (name, L, N, tau, sticky, chunks, q, seed)
CASES = [
    ("uniform_L8_N64", 8, 64, 0.75, False, 3, 4, 1),
    ("sticky_L8_N64", 8, 64, 0.75, True, 4, 4, 2),
    ("sticky_L16_N256_tau05", 16, 256, 0.5, True, 3, 4, 3),
    ("uniform_L5_N32", 5, 32, 0.75, False, 3, 4, 4),
    ("sticky_L5_N32", 5, 32, 0.75, True, 3, 4, 5),
    ("uniform_L16_N1024", 16, 1024, 0.75, False, 2, 4, 6),
]

PROTOCOL = """\
For each case (name, L, N, tau, sticky, chunks, q, seed):
  g = torch.Generator().manual_seed(seed)
  key_w = torch.randn(768, 768, generator=g) * 0.02; key_b = torch.randn(768, generator=g) * 0.02
  value_w = torch.randn(768, 768, generator=g) * 0.02; value_b = torch.randn(768, generator=g) * 0.02
  for c in range(chunks):
      tokens_c = torch.randn(1, L*32, 768, generator=g); queries_c = torch.randn(1, q, 768, generator=g)
  proj_key = nn.Linear(768, 768) with weight <- key_w, bias <- key_b; proj_value likewise (value_w, value_b)
  module = LongTermAttention(head_size=64, length=L, target_len=L, attn_func='softmax', attn_num_basis=N,
      continuous=True, attn_drop=0.1, infinite_memory=True, n_layers=2, n_heads=12, affines=True,
      mask=True, mask_type='cnn', kl_regularizer=False, proj_key=proj_key, proj_value=proj_value,
      sigma_0=None, mu_0=None, sticky_memories=sticky, sigmas=None, tau=tau)
  torch.manual_seed(seed)   # immediately before the first forward; nothing else touches the global RNG
  with torch.no_grad():
      for c in range(chunks):
          context_c = module.forward(tokens_c, queries_c, new_doc=(c == 0), layer_n=0)   # [1, q, 768]
          record context_c and module.B_past[:, :, :8]
All tensors float32 on CPU. Pooled per-frame input seen by the memory: x_c = tokens_c.reshape(1, L, 32, 768).mean(2).
"""


def load_reference(ref_dir: str):
    """Load basis_functions.py and long_term_attention_gibbs.py as a fake package."""
    ref_dir = os.path.abspath(ref_dir)
    pkg_name = "_infvideo_ref_models"
    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = [ref_dir]
    sys.modules[pkg_name] = pkg

    def _load(sub):
        full = f"{pkg_name}.{sub}"
        spec = importlib.util.spec_from_file_location(full, os.path.join(ref_dir, sub + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        return mod

    basis_mod = _load("basis_functions")
    ltm_mod = _load("long_term_attention_gibbs")
    return basis_mod, ltm_mod


class StickyRecorder:
    """Wraps RetangularBasisFunctions.batch_evaluate (class attribute, in memory only) to
    capture the times ts[0] that the sticky-memory update evaluates the old memory at."""

    def __init__(self, basis_mod):
        self.cls = basis_mod.RetangularBasisFunctions
        self.orig = self.cls.batch_evaluate
        self.module = None
        self.captured = []
        rec = self

        def wrapped(self_basis, t):
            m = rec.module
            if m is not None:
                psi = getattr(m, "psi", None)
                try:
                    target = psi[m.length][0]
                except Exception:  # noqa: BLE001
                    target = None
                if self_basis is target:
                    rec.captured.append(t.detach().clone())
            return rec.orig(self_basis, t)

        self.cls.batch_evaluate = wrapped

    def restore(self):
        self.cls.batch_evaluate = self.orig


class CategoricalRecorder:
    """Replaces the name ``dist`` inside the loaded upstream module (in memory only) by a
    namespace whose ``Categorical`` is a recording subclass of torch's Categorical. Sampling is
    unchanged (same global-RNG draws); it only records the probability vectors with more than
    one category, i.e. the sticky per-bin probabilities p."""

    def __init__(self, ltm_mod):
        import torch.distributions as tdist

        self.ltm_mod = ltm_mod
        self.orig = ltm_mod.dist
        self.captured = []
        rec = self

        class RecordingCategorical(tdist.Categorical):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                if self.probs.shape[-1] > 1:
                    rec.captured.append(self.probs.detach().clone())

        shim = types.SimpleNamespace(**{k: getattr(tdist, k) for k in dir(tdist) if not k.startswith("_")})
        shim.Categorical = RecordingCategorical
        ltm_mod.dist = shim

    def restore(self):
        self.ltm_mod.dist = self.orig


def f(x):
    """Checksum: float of the float32 sum."""
    return float(x.sum())


def run_case(ltm_mod, recorder, cat_rec, name, L, N, tau, sticky, chunks, q, seed):
    g = torch.Generator().manual_seed(seed)
    key_w = torch.randn(WIDTH, WIDTH, generator=g) * 0.02
    key_b = torch.randn(WIDTH, generator=g) * 0.02
    value_w = torch.randn(WIDTH, WIDTH, generator=g) * 0.02
    value_b = torch.randn(WIDTH, generator=g) * 0.02
    tokens, queries = [], []
    for _ in range(chunks):
        tokens.append(torch.randn(1, L * TOKENS_PER_FRAME, WIDTH, generator=g))
        queries.append(torch.randn(1, q, WIDTH, generator=g))

    proj_key = nn.Linear(WIDTH, WIDTH)
    proj_value = nn.Linear(WIDTH, WIDTH)
    with torch.no_grad():
        proj_key.weight.copy_(key_w)
        proj_key.bias.copy_(key_b)
        proj_value.weight.copy_(value_w)
        proj_value.bias.copy_(value_b)

    config = {
        "L": L,
        "N": N,
        "tau": tau,
        "sticky": sticky,
        "chunks": chunks,
        "q": q,
        "seed": seed,
        "width": WIDTH,
        "heads": HEADS,
        "head_dim": HEAD_DIM,
        "tokens_per_frame": TOKENS_PER_FRAME,
    }
    checksums = {
        "key_w": f(key_w),
        "key_b": f(key_b),
        "value_w": f(value_w),
        "value_b": f(value_b),
        "tokens": [f(t) for t in tokens],
        "queries": [f(t) for t in queries],
        "x_pooled": [f(t.reshape(1, L, TOKENS_PER_FRAME, WIDTH).mean(2)) for t in tokens],
    }
    out = {"config": config, "input_checksums": checksums}

    module = ltm_mod.LongTermAttention(
        head_size=HEAD_DIM,
        length=L,
        target_len=L,
        attn_func="softmax",
        attn_num_basis=N,
        continuous=True,
        attn_drop=0.1,
        infinite_memory=True,
        n_layers=2,
        n_heads=HEADS,
        affines=True,
        mask=True,
        mask_type="cnn",
        kl_regularizer=False,
        proj_key=proj_key,
        proj_value=proj_value,
        sigma_0=None,
        mu_0=None,
        sticky_memories=sticky,
        sigmas=None,
        tau=tau,
    )
    module.eval()

    contexts, b_past, sticky_pos, sticky_p, g_inf_rows = [], [], [], [], []
    recorder.module = module
    try:
        torch.manual_seed(seed)
        with torch.no_grad():
            for c in range(chunks):
                recorder.captured = []
                cat_rec.captured = []
                ctx = module.forward(tokens[c], queries[c], new_doc=(c == 0), layer_n=0)
                contexts.append(ctx.detach().clone().contiguous())
                b_past.append(module.B_past[:, :, :8].detach().clone().contiguous())
                g_inf_rows.append(int(module.G_inf.shape[0]))
                if sticky and c > 0:
                    if len(recorder.captured) != 1:
                        raise RuntimeError(f"expected 1 sticky batch_evaluate call, saw {len(recorder.captured)}")
                    sticky_pos.append(recorder.captured[0].clone().contiguous())
                    if len(cat_rec.captured) != 1:
                        raise RuntimeError(f"expected 1 sticky Categorical, saw {len(cat_rec.captured)}")
                    sticky_p.append(cat_rec.captured[0].clone().contiguous())
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
        out["completed_chunks"] = len(contexts)
    finally:
        recorder.module = None

    out["contexts"] = contexts
    out["B_past"] = b_past
    if sticky:
        out["sticky_positions"] = sticky_pos  # one [512] tensor per chunk c >= 1
        out["sticky_probs"] = sticky_p  # one [1, 127] tensor per chunk c >= 1 (normalised p)
    out["G_inf_rows"] = g_inf_rows
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref-dir", required=True, help="path to the extracted infty-Video-LLaMA/InfVideoLLaMA/models directory")
    ap.add_argument("--out", required=True, help="output .pt path")
    args = ap.parse_args(argv)

    out_path = os.path.abspath(args.out)
    basis_mod, ltm_mod = load_reference(args.ref_dir)
    recorder = StickyRecorder(basis_mod)
    cat_rec = CategoricalRecorder(ltm_mod)

    old_cwd = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="ref_ltm_")
    cases = {}
    try:
        os.chdir(tmp)  # upstream writes ./alphas_uniform on every forward call
        for name, L, N, tau, sticky, chunks, q, seed in CASES:
            cases[name] = run_case(ltm_mod, recorder, cat_rec, name, L, N, tau, sticky, chunks, q, seed)
            status = cases[name].get("error", "ok")
            print(f"{name}: {status}", flush=True)
    finally:
        os.chdir(old_cwd)
        shutil.rmtree(tmp, ignore_errors=True)
        recorder.restore()
        cat_rec.restore()

    data = {
        "meta": {
            "torch_version": str(torch.__version__),
            "torch_num_threads": torch.get_num_threads(),
            "ref_repo": REF_REPO,
            "ref_commit": REF_COMMIT,
            "ref_file": REF_FILE,
            "protocol": PROTOCOL,
            "b_past_slice": "B_past[:, :, :8] after each chunk, shape [1, N, 8]",
            "sticky_positions": "for sticky cases, chunks c >= 1: the ts[0] ([512]) passed to "
            "psi.batch_evaluate inside update_inf (captured by wrapping the method)",
            "sticky_probs": "for sticky cases, chunks c >= 1: the normalised per-bin probabilities p "
            "([1, 127]) given to the Categorical that draws the 512 bin indices "
            "(captured via a recording Categorical subclass; sampling unchanged)",
            "sticky_rng_order": "per consolidation: Categorical(p).sample((512,)) then "
            "Categorical(ones(1)).sample((512, 1)) (also consumes global RNG; "
            "always 0); positions = bins[b] with bins = linspace(0, 1, 129)",
        },
        "cases": cases,
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    torch.save(data, out_path)
    print(f"wrote {out_path} ({os.path.getsize(out_path)} bytes)")


if __name__ == "__main__":
    main()
