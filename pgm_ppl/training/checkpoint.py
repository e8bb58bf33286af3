"""Atomic, pickle-free checkpoints of a training run.

A checkpoint holds only tensors and primitive containers, so ``torch.load(path, weights_only=True)`` reads it
without unpickling code: the module's ``state_dict``, the optimisers', schedulers' and EMA's state, the step,
the loss history, the generator states (as uint8 tensors), and a header (format version, module class,
parameter shapes, and the run's settings: seed, optimiser, learning rate, weight decay, schedule, clipping, EMA,
batch size) that :func:`load` checks before anything is restored: a resumed run must be the same run. It is written to a temporary file in
the same folder and moved into place with :func:`os.replace`, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["FORMAT_VERSION", "checkpoint_path", "header", "load", "save"]

FORMAT_VERSION = 2  # 2: the header holds the run's settings
FILENAME = "checkpoint.pt"


def checkpoint_path(directory: str | os.PathLike) -> Path:
    """Where the run's checkpoint lives inside ``directory``."""
    return Path(directory) / FILENAME


def header(module: torch.nn.Module, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a checkpoint must match to be restored into ``module`` by a run with ``settings``."""
    cls = type(module)
    return {"format_version": FORMAT_VERSION, "module_class": f"{cls.__module__}.{cls.__qualname__}",
            "parameter_shapes": {name: list(value.shape) for name, value in module.state_dict().items()},
            "settings": dict(settings or {})}


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, then :func:`os.replace`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path, module: torch.nn.Module, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the checkpoint at ``path`` (``weights_only=True``) after checking that it fits ``module`` and
    ``settings``.

    Raises
    ------
    ValueError
        If there is no checkpoint, or it has another format version, module class, parameter shapes or settings.
    """
    if not path.is_file():
        raise ValueError(f"resume: expected a checkpoint at {path}, got none; train once with checkpoint_dir "
                         "(and checkpoint_every) set, or pass resume=False.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: expected a pgm_ppl training checkpoint, got an unreadable file "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}).") from error
    found = payload.get("header", {}) if isinstance(payload, dict) else {}
    expected = header(module)
    if found.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: expected checkpoint format version {FORMAT_VERSION}, "
                         f"got {found.get('format_version')!r}.")
    if found.get("module_class") != expected["module_class"]:
        raise ValueError(f"{path}: expected a checkpoint of {expected['module_class']}, "
                         f"got one of {found.get('module_class')!r}.")
    if found.get("parameter_shapes") != expected["parameter_shapes"]:
        diff = _first_difference(expected["parameter_shapes"], found.get("parameter_shapes") or {})
        raise ValueError(f"{path}: expected the parameter shapes of this {type(module).__name__}, got {diff}.")
    saved = found.get("settings") or {}
    differences = [f"{name}={value!r} where the checkpoint has {saved.get(name)!r}"
                   for name, value in (settings or {}).items() if saved.get(name) != value]
    if differences:
        raise ValueError(f"resume: expected the settings of the run checkpointed in {path}, got "
                         f"{'; '.join(differences)}. Pass the same settings to continue that run, or resume=False "
                         "(or another checkpoint_dir) to start a new one.")
    return payload


def _first_difference(expected: dict, found: dict) -> str:
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            return (f"parameter {name!r} with shape {found.get(name)} in the checkpoint and "
                    f"{expected.get(name)} in the module")
    return "a different parameter set"
