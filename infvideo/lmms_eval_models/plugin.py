"""What lmms-eval 0.7.3 reads from the ``lmms_eval.models`` entry-point group (its
``models/registry_v2.py``, ``load_entrypoint_manifests``): a callable returning model manifests, each a
model name and the import path of its ``lmms`` class. lmms-eval loads every entry point when it starts,
so this module imports nothing of ours: the model is imported only when a run asks for it."""

from __future__ import annotations

from lmms_eval.models.registry_v2 import ModelManifest

# lmms-eval model name -> its class in adapter.py (settings.MODEL_FAMILIES says which family each is)
CLASSES = {"infvideo_llama": "InfVideoLLaMALMM", "infvideo_chat2": "InfVideoChat2LMM"}


def manifests() -> list[ModelManifest]:
    return [ModelManifest(model_id=name, simple_class_path=f"infvideo.lmms_eval_models.adapter.{cls}") for name, cls in CLASSES.items()]
