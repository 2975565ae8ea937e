"""Command line: ``python -m lib {train,record,generate,list,import-keras,demo-models} --help``.

The same code paths as the app, for scripts and bigger machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.train.distribute import STRATEGIES

if TYPE_CHECKING:
    from lib.data.corpora import Corpus
    from lib.data.datasets import LabelledData


def _corpus(args: argparse.Namespace) -> Corpus:
    from lib.data.corpora import corpus_from_file, load_corpus

    if args.file:
        return corpus_from_file(args.file)
    return load_corpus(args.corpus)


def _dataset(args: argparse.Namespace) -> LabelledData:
    from lib.data.datasets import from_csv_bytes, load_dataset, subsample

    if args.csv:
        path = Path(args.csv)
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise ValueError(
                f"cannot read {str(path)!r} ({err.strerror}); check the path"
            ) from None
        data = from_csv_bytes(
            raw, name=path.name, text_column=args.text_column, label_column=args.label_column
        )
    elif args.dataset:
        data = load_dataset(args.dataset)
    else:
        raise ValueError(
            "a classifier needs --dataset (nltk:sentence_polarity, "
            "nltk:movie_reviews, nltk:brown[@cat,cat...], keras:imdb, "
            "keras:reuters[@K]) or --csv FILE"
        )
    if args.limit:
        data = subsample(data, args.limit, seed=args.seed)
    print(repr(data), file=sys.stderr)
    return data


def _print_progress(event: dict[str, Any]) -> None:
    if event["kind"] == "batch":
        print(
            f"\repoch {event['epoch'] + 1} step {event['step']}/{event['steps']} "
            f"loss {event['loss']:.3f}",
            end="",
            file=sys.stderr,
            flush=True,
        )
    elif event["kind"] == "phase":
        print(f"{event['text']}…", file=sys.stderr, flush=True)
    elif event["kind"] == "epoch":
        m = {k: round(v, 4) for k, v in event["metrics"].items()}
        print(f"\repoch {event['epoch'] + 1} done: {m}", file=sys.stderr, flush=True)


def _strategy(args: argparse.Namespace) -> tuple[Any, str | None]:
    """Make the tf.distribute strategy of ``--strategy``; return it and the registry root.

    The root is None (the registry) on the chief, a throw-away folder on the other workers.
    """
    import shutil
    import tempfile

    from lib.model.registry import model_dir
    from lib.train.distribute import describe, is_chief, make_strategy, split_cpu

    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.strategy)
    print(f"training with {describe(strategy)}", file=sys.stderr)
    if is_chief():
        return strategy, None
    root = tempfile.mkdtemp(prefix="rnn-lens-worker-")
    if args.resume:
        shutil.copytree(model_dir(args.name), f"{root}/{args.name}")
    return strategy, root


def cmd_train(args: argparse.Namespace) -> None:
    """Train a language model or a sequence classifier into the registry."""
    from lib.model.spec import ModelSpec, TrainConfig
    from lib.train.fit import train, train_classifier

    strategy, root = _strategy(args)
    classifier = args.task == "classifier"
    spec = ModelSpec(
        cell=args.cell,
        level=args.level,
        tokenizer_mode=args.mode,
        layers=args.layers,
        units=args.units,
        embedding=args.embedding,
        dropout=args.dropout,
        seq_len=args.seq_len,
        task=args.task,
        max_len=args.max_len if classifier else None,
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        clipnorm=args.clipnorm,
        min_count=args.min_count,
        seed=args.seed,
        max_tokens=args.max_tokens,
        max_vocab=args.max_vocab,
        test_fraction=args.test_fraction,
        tensorboard=args.tensorboard,
        csv_log=args.csv_log,
    )
    if classifier:
        bundle = train_classifier(
            spec,
            _dataset(args),
            name=args.name,
            config=config,
            progress=_print_progress,
            resume=args.resume,
            overwrite=args.overwrite,
            root=root,
            strategy=strategy,
        )
    else:
        bundle = train(
            spec,
            _corpus(args),
            name=args.name,
            config=config,
            progress=_print_progress,
            resume=args.resume,
            overwrite=args.overwrite,
            root=root,
            strategy=strategy,
        )
    print(json.dumps(bundle.meta["metrics"], indent=1))


def cmd_record(args: argparse.Namespace) -> None:
    """Record a text through a model into a trace file, trace folder or shards."""
    from lib.model.registry import load
    from lib.run.record import record, record_shards
    from lib.run.trace import TraceError, open_trace, read_manifest

    bundle = load(args.model)
    text = Path(args.text).read_text(encoding="utf-8") if args.text else _corpus(args).text
    if args.max_chars:
        text = text[: args.max_chars]
    streams = 1 if args.exact else "auto"
    t0 = time.perf_counter()
    if args.shards:
        record_shards(
            bundle,
            text,
            args.out,
            args.shards,
            shard=args.shard_index,
            shard_warmup=args.shard_warmup,
            dtype=args.dtype,
            streams=streams,
        )
        dt = time.perf_counter() - t0
        try:
            trace = open_trace(args.out)
        except TraceError as e:  # other shards still to come
            n = len(read_manifest(args.out)["shards"])
            print(f"shard {args.shard_index} of {n} written to {args.out} in {dt:,.0f} s; {e}")
            return
    elif args.shard_index is not None:
        raise ValueError("--shard-index needs --shards N")
    elif args.out.endswith(".npz"):
        trace = record(bundle, text, streams=streams, dtype=args.dtype)
        dt = time.perf_counter() - t0
        trace.save(args.out)
    else:
        trace = record(bundle, text, streams=streams, dtype=args.dtype, out_dir=args.out)
        dt = time.perf_counter() - t0
    print(f"{trace!r}\n{len(trace) / dt:,.0f} tokens/s; written to {args.out}")


def cmd_generate(args: argparse.Namespace) -> None:
    """Sample text from a language model; print it and optionally save its trace."""
    from lib.model.registry import load
    from lib.run.generate import generate

    bundle = load(args.model)
    trace = generate(
        bundle,
        args.seed_text,
        args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
    )
    print(bundle.tokenizer.detokenize(trace.tokens))
    if args.out:
        trace.save(args.out)


def cmd_list(args: argparse.Namespace) -> None:
    """Print one line per model in the registry."""
    from lib.model.registry import list_models

    for m in list_models():
        metrics = {k: round(v, 3) for k, v in m.get("metrics", {}).items()}
        task = m["spec"].get("task", "lm")
        print(
            f"{m['name']:28s} {task:10s} {m['spec']['level']:5s} {m['spec']['cell']:5s} "
            f"{m['spec']['layers']}x{m['spec']['units']:<5d} {metrics}"
        )


def cmd_findings(args: argparse.Namespace) -> None:
    """Write each language model's headline findings (lib.analysis.findings) to its folder."""
    from lib.analysis.findings import TEXT_CHARS, findings_for, write_findings
    from lib.data.corpora import load_corpus
    from lib.model.registry import list_models, load

    names = args.model or [m["name"] for m in list_models() if m.get("demo")]
    for name in names:
        bundle = load(name)
        if bundle.spec.is_classifier:
            continue
        text = load_corpus(bundle.meta["corpus"]["ref"]).text[:TEXT_CHARS]
        found = findings_for(bundle, text)
        assert bundle.path is not None
        path = write_findings(bundle.path, found)
        print(f"{name}: {len(found['findings'])} findings -> {path}", file=sys.stderr)


def cmd_import_keras(args: argparse.Namespace) -> None:
    """Import a user's own Keras model (.keras or .h5) and its vocabulary into the registry."""
    from lib.model.registry import import_keras
    from lib.run.classify import record_sequences
    from lib.run.record import record

    def read(path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as err:
            raise ValueError(f"cannot read {Path(path).name!r} ({err.strerror})") from None

    model_file = Path(args.model_file)
    bundle, check = import_keras(
        read(args.model_file),
        model_file.name,
        args.name or model_file.stem,
        record=record,
        record_sequences=record_sequences,
        vocab=read(args.vocab) if args.vocab else None,
        vocab_name=Path(args.vocab).name if args.vocab else "vocabulary",
        classes=args.classes.split(",") if args.classes else None,
        max_len=args.max_len,
    )
    print(
        f"imported {bundle.name}: {bundle.spec.describe()}, {len(bundle.vocab):,} tokens; "
        f"recorder vs Keras on {check['sample_tokens']} tokens: max |delta h| "
        f"{check['max_abs_delta_h']:.2e}, max |delta output| {check['max_abs_delta_output']:.2e}"
    )
    for note in bundle.meta.get("imported", {}).get("notes", []):
        print(f"note: {note}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> None:
    """Train the shipped demo models (all, or those named)."""
    from lib.train.demo import train_demo_models

    train_demo_models(args.names or None, progress=_print_progress)


def main(argv: list[str] | None = None) -> None:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``)."""
    p = argparse.ArgumentParser(prog="python -m lib", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def corpus_args(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--corpus",
            default="builtin:python-reference",
            help="builtin:python-reference, builtin:python-stdlib or nltk:<name>",
        )
        q.add_argument("--file", help="a UTF-8 text file instead of --corpus")

    t = sub.add_parser(
        "train", help="train a language model or a sequence classifier into the registry"
    )
    corpus_args(t)
    t.add_argument(
        "--task",
        default="lm",
        choices=["lm", "classifier"],
        help="lm: next-token prediction on --corpus/--file; classifier: labelled "
        "texts from --dataset or --csv",
    )
    t.add_argument(
        "--dataset",
        help="classifier data: nltk:sentence_polarity, "
        "nltk:movie_reviews, nltk:brown[@cat,cat,...], keras:imdb, keras:reuters[@K]",
    )
    t.add_argument("--csv", help="classifier data: a UTF-8 CSV file with a header row")
    t.add_argument("--text-column", help="CSV text column (default: text, review, ...)")
    t.add_argument("--label-column", help="CSV label column (default: label, class, ...)")
    t.add_argument(
        "--limit", type=int, default=None, help="classifier: a stratified sample of this many texts"
    )
    t.add_argument(
        "--max-len", type=int, default=100, help="classifier: tokens kept per text (the first ones)"
    )
    t.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="classifier: held-out test share of each class",
    )
    t.add_argument("--max-vocab", type=int, default=None, help="keep only the N commonest tokens")
    t.add_argument("--name", required=True, help="registry name (letters, digits, - and _)")
    t.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    t.add_argument("--level", default="char", choices=["char", "word"])
    t.add_argument(
        "--mode",
        default="keep-space",
        choices=["keep-space", "words"],
        help="word level: keep spaces and newlines as tokens, or words only",
    )
    t.add_argument("--layers", type=int, default=1)
    t.add_argument("--units", type=int, default=128)
    t.add_argument("--embedding", type=int, default=32)
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--seq-len", type=int, default=100)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--optimizer", default="adam", choices=["adam", "rmsprop"])
    t.add_argument("--lr", type=float, default=2e-3, help="learning rate")
    t.add_argument("--clipnorm", type=float, default=5.0, help="gradient clipping norm")
    t.add_argument("--min-count", type=int, default=1, help="rarer tokens become <unk>")
    t.add_argument("--max-tokens", type=int, default=None, help="use only the first N tokens")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue a stopped model")
    t.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    t.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard event files to <registry>/.logs/<name>/ "
        "(tensorboard --logdir models/.logs)",
    )
    t.add_argument(
        "--csv-log",
        action="store_true",
        help="write a CSV row per epoch to <registry>/.logs/<name>/training.csv (a resume appends)",
    )
    t.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute: auto = multiworker when TF_CONFIG is set, mirrored "
        "over the GPUs when there are several, else none (lib.train.distribute)",
    )
    t.add_argument(
        "--cpu-devices",
        type=int,
        default=0,
        help="split the CPU into N logical devices, to try --strategy mirrored "
        "without GPUs (not faster)",
    )
    t.set_defaults(func=cmd_train)

    r = sub.add_parser(
        "record",
        help="record a text through a model into a Trace (.npz file, trace folder or shard folder)",
    )
    corpus_args(r)
    r.add_argument("--model", required=True)
    r.add_argument("--text", help="a UTF-8 text file to record (else the corpus)")
    r.add_argument(
        "--max-chars", type=int, default=100_000, help="record the first N characters (0: all)"
    )
    r.add_argument("--exact", action="store_true", help="one sequential stream (slow)")
    r.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float16"],
        help="storage of the signals (float16: half the size)",
    )
    r.add_argument(
        "--shards",
        type=int,
        default=0,
        help="write N shard folders of contiguous slices plus a manifest into the --out folder",
    )
    r.add_argument(
        "--shard-index",
        type=int,
        default=None,
        help="with --shards: record only "
        "shard K (several machines at once), warmed up from a zero state",
    )
    r.add_argument(
        "--shard-warmup",
        type=int,
        default=2000,
        help="with --shard-index: tokens read before the shard to warm its state up",
    )
    r.add_argument(
        "--out",
        required=True,
        help="a .npz file, else a folder (memory-mapped "
        "trace folder, or shard folder with --shards)",
    )
    r.set_defaults(func=cmd_record)

    g = sub.add_parser("generate", help="sample text from a model")
    g.add_argument("--model", required=True)
    g.add_argument("--seed-text", default="\n")
    g.add_argument("--length", type=int, default=300)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--seed", type=int, default=None, help="random seed (reproducible)")
    g.add_argument("--out", help="also write the Trace to this .npz path")
    g.set_defaults(func=cmd_generate)

    ls = sub.add_parser("list", help="list the models in the registry")
    ls.set_defaults(func=cmd_list)

    fi = sub.add_parser(
        "findings",
        help="compute the start page's headline findings (the Neuron Atlas's best neuron per "
        "feature) into each model's findings.json",
    )
    fi.add_argument("--model", nargs="*", help="model names (default: every demo model)")
    fi.set_defaults(func=cmd_findings)
    ik = sub.add_parser(
        "import-keras",
        help="import your own Keras model (.keras or .h5: Embedding -> 1-3 SimpleRNN/LSTM/GRU "
        "-> Dense) with its vocabulary",
    )
    ik.add_argument("model_file", help="the .keras or .h5 file")
    ik.add_argument(
        "--vocab",
        help="a JSON character/token list, a JSON word index, a Keras Tokenizer JSON or a "
        "vocabulary file (one token per line); not needed with a TextVectorization layer",
    )
    ik.add_argument("--name", help="registry name (default: the file's name)")
    ik.add_argument("--classes", help="a classifier's class names, comma-separated")
    ik.add_argument("--max-len", type=int, default=None, help="a classifier's tokens per text")
    ik.set_defaults(func=cmd_import_keras)
    d = sub.add_parser("demo-models", help="train the shipped demo models")
    d.add_argument("names", nargs="*", help="only these (default: all)")
    d.set_defaults(func=cmd_demo)

    args = p.parse_args(argv)
    try:
        args.func(args)
    except ValueError as e:  # user errors: corpus, registry, settings
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
