"""The text branch of the ``pgm-ppl`` command: language models trained on a text file, and sampling text from them.

``pgm-ppl train transformer --data FILE.txt --out DIR`` reads the file as characters (a tokenizer of the characters
of its first 80%, an unknown-symbol class for the rest), cuts it into contiguous train/validation/test parts
(80/10/10), trains the model on overlapping rows of ``context_length + 1`` characters with the one training engine,
and writes, each file atomically: ``run.json`` (model, settings, tokenizer, the text's SHA-256 and the Python
version), ``checkpoint.pt`` (``--resume`` continues from it), ``loss.png``, ``metrics.json`` (per-character NLL,
bits per character and perplexity on the validation and test parts), ``samples.txt`` and ``model.pt`` (last: a
run with it is finished).

``pgm-ppl sample DIR --prompt "..." --top-p 0.9`` continues a prompt with a trained text model (also ``--top-k``,
``--temperature``, ``--greedy``, ``--length``, ``--num``, ``--seed``), printing the text or writing it to
``--out FILE.txt``. Array runs (every other model) keep the ``.npy`` sampling of :mod:`pgm_ppl.cli_train`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pgm_ppl.cli_train import (RUN_FORMAT, TRAINABLE, UsageError, _atomic_write, _build_module, _check_resumable,
                               _check_settings, _finished, _make_run_dir, _plot_losses, _prepare_run, _read_spec,
                               _split, _trainable, _write_json, run_compare, run_sample, run_train)

__all__ = ["add_text_commands", "run_compare_any", "run_sample_any", "run_train_any", "run_train_text"]

TEXT_ENGINE = "text"
BINARY_MODEL_BUILDS = ("pgm_ppl.deep_latent:vae", "pgm_ppl.sequence:made")  # models of 0/1 pixels
DEFAULT_NUM_SAMPLES = 1000  # array runs (cli_train's default)


def add_text_commands(commands: Any) -> None:
    """Route ``train`` of text models and ``sample`` of text runs here; add the decoding options to ``sample``."""
    commands.choices["train"].set_defaults(run=run_train_any)
    sampling = commands.choices["sample"]
    for action in sampling._actions:
        if action.dest == "out":
            action.required = False  # text is printed when no --out is given
            action.help = "the .npy file to write (array runs; required), or a .txt file (text runs; optional)"
        if action.dest == "num":
            action.default = None
            action.help = "number of samples (default 1000; text runs: 1)"
    sampling.add_argument("--prompt", help="text runs: the text to continue (default: start of text)")
    sampling.add_argument("--length", type=int, default=200, help="text runs: characters to generate (default 200)")
    sampling.add_argument("--temperature", type=float, default=1.0, help="text runs: softmax temperature (0: greedy)")
    sampling.add_argument("--top-k", type=int, help="text runs: keep the k most probable characters")
    sampling.add_argument("--top-p", type=float, help="text runs: keep the smallest set with mass >= p (nucleus)")
    sampling.add_argument("--greedy", action="store_true", help="text runs: the most probable character each step")
    sampling.set_defaults(run=run_sample_any)
    commands.choices["compare"].set_defaults(run=run_compare_any)


def _is_text_model(name: str) -> bool:
    return name in TRAINABLE and TRAINABLE[name].engine == TEXT_ENGINE


def run_train_any(options: Any) -> int:
    """``pgm-ppl train``: text models here, every other model in :func:`pgm_ppl.cli_train.run_train`."""
    if _is_text_model(options.model):
        return run_train_text(options)
    if str(options.data).lower().endswith(".txt"):
        text_models = [name for name in TRAINABLE if _is_text_model(name)]
        raise UsageError(f"--data {options.data}: a text file needs a language model ({', '.join(text_models)}); "
                         f"{options.model} trains on arrays of numbers.")
    _check_binary_data(options)
    return run_train(options)


def _check_binary_data(options: Any) -> None:
    """Models of 0/1 pixels (vae, made): refuse data they would mangle, before anything is written.

    ``made`` needs 0/1 rows (``--data binarized_digits``). ``vae`` binarises at its ``threshold`` (8, for digits
    0-16): on data already 0/1 (``--data binarized_digits``) it uses 0.5, the identity there, unless ``--set
    threshold`` was given; a threshold that turns every value into the same bit is refused.
    """
    if options.model not in TRAINABLE or TRAINABLE[options.model].build not in BINARY_MODEL_BUILDS:
        return
    import numpy as np

    from pgm_ppl.cli import _parse_settings

    entry = _trainable(options.model)
    chosen = _parse_settings(options.set)
    _check_settings(options.model, entry, {**entry.options, **chosen})
    X_train, _, name = _split(options.data, options.seed, options.num_data)
    binary = bool(np.isin(X_train, (0.0, 1.0)).all())
    values = f"{name} has values in [{X_train.min():g}, {X_train.max():g}]"
    if "threshold" not in entry.options:
        if not binary:
            raise UsageError(f"--data {options.data}: {options.model} models binary vectors (0/1 pixels), but "
                             f"{values}; use --data binarized_digits (digits binarised at 8) or a file of 0/1 rows.")
        return
    if binary and "threshold" not in chosen:
        options.set = [*options.set, "threshold=0.5"]
        print(f"{name} is already 0/1: {options.model} binarises it at threshold=0.5 (the identity) instead of "
              f"{entry.options['threshold']:g}.")
        return
    threshold = float(chosen.get("threshold", entry.options["threshold"]))
    above = X_train > threshold
    if above.all() or not above.any():
        raise UsageError(f"--set threshold={threshold:g}: binarising at it makes every value of {name} "
                         f"{int(above.all())} ({values}); {options.model} models binary images: use --data "
                         "binarized_digits or digits, or a threshold inside the data's range.")
    if not binary:
        print(f"pgm-ppl: note: {options.model} binarises {name} at threshold={threshold:g} inside the model; the "
              "sample metrics in metrics.json set its 0/1 samples against the held-out rows binarised the same way.",
              file=sys.stderr)


def run_train_text(options: Any) -> int:
    """Train a language model on a text file and write the run (see the module docstring)."""
    entry, settings, out = _prepare_run(options)
    corpus, rows, validation = _read_corpus(options.data, int(settings["context_length"]))
    spec = {"format": RUN_FORMAT, "model": options.model, "features": corpus.vocab_size, "settings": settings,
            "data": corpus.name, "source": str(options.data), "num_data": options.num_data, "seed": options.seed,
            "steps": options.steps, "batch_size": options.batch_size,
            "text": {"tokenizer": corpus.tokenizer.to_dict(), **corpus.describe()}}
    if options.resume:
        _check_resumable(out, spec)
    else:
        _make_run_dir(out)
        _write_json(out / "run.json", spec)
    try:
        print(f"Training {options.model} on {corpus.name} ({len(corpus.train):,} characters in {len(rows):,} rows "
              f"of {rows.shape[1]}, vocabulary {corpus.vocab_size})...", flush=True)
        module, fit = _fit(spec, rows, validation, out, options)
        _write_text_outputs(out, module, fit, corpus, options.seed)
        import torch

        _atomic_write(out / "model.pt", lambda path: torch.save(module.state_dict(), path))
    except BaseException:
        if not options.resume and not (out / "checkpoint.pt").exists():
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        raise
    print(f"\nWrote {out}/: run.json, checkpoint.pt, model.pt, loss.png, metrics.json, samples.txt "
          f"({fit.seconds:.1f} s)")
    return 0


def _read_corpus(source: str, context_length: int):
    from pgm_ppl.data.text import load_text, sliding_windows

    corpus = load_text(source)
    length = context_length + 1
    for part, ids in (("validation", corpus.validation), ("training", corpus.train)):
        if len(ids) < length:
            raise UsageError(f"--data {source}: the {part} part has {len(ids)} characters, fewer than "
                             f"context_length + 1 = {length}; use a longer text or --set context_length=<smaller>.")
    rows = sliding_windows(corpus.train, length, stride=max(1, length // 2))
    return corpus, rows, sliding_windows(corpus.validation, length)


def _fit(spec: dict, rows: Any, validation: Any, out: Path, options: Any):
    from pgm_ppl.training import train

    module = _build_module(spec)
    fit = train(module, rows, num_steps=spec["steps"], batch_size=min(spec["batch_size"], len(rows)),
                learning_rate=float(spec["settings"]["learning_rate"]), validation_data=validation,
                validate_every=max(spec["steps"] // 20, 1), device=options.device, seed=spec["seed"],
                checkpoint_dir=out, checkpoint_every=max(spec["steps"] // 10, 1), resume=options.resume,
                num_generated=0)
    return module, fit


def _write_text_outputs(out: Path, module: Any, fit: Any, corpus: Any, seed: int) -> None:
    from pgm_ppl.sequence import generate, score

    module.cpu().float()
    report = {"corpus": corpus.describe(), "seconds": fit.seconds, "stop_reason": fit.stop_reason}
    for part in ("validation", "test"):
        ids = getattr(corpus, part)
        if len(ids) >= module.context_length + 1:
            result = score(module, ids)
            report[part] = {"nll_nats_per_char": result.nll, "bits_per_char": result.bits_per_token,
                            "perplexity": result.perplexity, "standard_error": result.standard_error,
                            "num_chars": result.num_tokens}
    _write_json(out / "metrics.json", report)
    _atomic_write(out / "loss.png", lambda path: _plot_losses(fit, path))
    drawn = generate(module, None, 300, num_samples=3, top_p=0.9, seed=seed)
    text = "\n\n----- top-p 0.9 -----\n\n".join(corpus.tokenizer.decode(row.numpy()) for row in drawn)
    _atomic_write(out / "samples.txt", lambda path: path.write_text(text + "\n", encoding="utf-8"))
    if "test" in report:
        print(f"test: {report['test']['bits_per_char']:.3f} bits/char, perplexity {report['test']['perplexity']:.2f}")


def run_compare_any(options: Any) -> int:
    """``pgm-ppl compare``: array runs only (:func:`pgm_ppl.cli_train.run_compare`); a text run is refused."""
    for run_dir in options.run_dirs:
        spec = _read_spec(Path(run_dir))
        if _is_text_model(spec["model"]):
            raise UsageError(f"{run_dir}: a {spec['model']} run of text; compare ranks runs of arrays by held-out "
                             "elpd. A text run's test bits per character are in its metrics.json.")
    return run_compare(options)


def run_sample_any(options: Any) -> int:
    """``pgm-ppl sample``: text from a text run, arrays (``.npy``) from any other run."""
    run_dir = Path(options.run_dir)
    spec = _read_spec(run_dir)
    if _is_text_model(spec["model"]):
        return _sample_text(options, run_dir, spec)
    text_options = [flag for flag, value in (("--prompt", options.prompt), ("--top-k", options.top_k),
                                             ("--top-p", options.top_p), ("--greedy", options.greedy or None))
                    if value is not None]
    if text_options:
        raise UsageError(f"{text_options[0]}: applies to text runs; {run_dir} is a {spec['model']} run of arrays.")
    if options.out is None:
        raise UsageError("--out: expected the .npy file to write the samples to.")
    if options.num is None:
        options.num = DEFAULT_NUM_SAMPLES
    return run_sample(options)


def _sample_text(options: Any, run_dir: Path, spec: dict) -> int:
    import torch

    from pgm_ppl.data.text import CharTokenizer
    from pgm_ppl.sequence import generate

    module = _build_module(spec)
    state = torch.load(_finished(run_dir / "model.pt"), map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    tokenizer = CharTokenizer.from_dict(spec["text"]["tokenizer"])
    prompt = tokenizer.encode(options.prompt or "")
    unseen = sorted(set(options.prompt or "") - set(tokenizer.vocabulary))
    if unseen:
        print(f"pgm-ppl: note: --prompt has {len(unseen)} character(s) the model never saw "
              f"({', '.join(map(repr, unseen[:10]))}); they are read as the unknown symbol "
              f"{tokenizer.unknown!r}.", file=sys.stderr)
    if options.length < 1:
        raise UsageError(f"--length: expected a positive integer, got {options.length}.")
    out = None if options.out is None else Path(options.out)
    if out is not None and (out.suffix != ".txt" or out.exists()):
        raise UsageError(f"--out {out}: expected a new file ending in .txt.")
    drawn = generate(module, prompt if len(prompt) else None, options.length, num_samples=options.num or 1,
                     temperature=options.temperature, top_k=options.top_k, top_p=options.top_p,
                     greedy=options.greedy, seed=options.seed)
    texts = [tokenizer.decode(row.numpy()) for row in drawn]
    if out is None:
        print("\n\n".join(texts))
    else:
        _atomic_write(out, lambda path: path.write_text("\n\n".join(texts) + "\n", encoding="utf-8"))
        print(f"Wrote {out}: {len(texts)} text(s) of {len(texts[0])} characters")
    return 0

