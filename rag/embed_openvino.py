"""OpenVINO backend for a sentence-transformers folder holding a BERT-style encoder with mean
pooling and L2 normalisation (the bundled multilingual-e5-small is one).

Why: on the project's 2 shared cores the OpenVINO runtime encodes several times faster than torch
with the same float32 weights (vectors agree to a cosine of about 0.99999; see
benchmarks/README.md). The torch module is converted once with ``openvino.convert_model`` into
an IR (``model.xml``/``model.bin``) cached under the model cache, keyed by the model folder's
identity and the OpenVINO version. At run time only ``openvino``, ``tokenizers`` and numpy are
used: tokenising with the folder's ``tokenizer.json``, pooling and normalising in numpy. torch is
imported only for the one-off conversion.

A cached IR is trusted only when its marker (written last) matches the model and the files'
sizes and hashes, and when a probe text, encoded at load, gives the vector torch gave at
conversion time; otherwise it is converted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed import QueryCache, model_fingerprint
from rag.errors import ModelError
from rag.model import build_folder, file_lock

IR_MARKER = "openvino-conversion.json"
"""Written last into an IR folder; marks it complete."""

_IR_FORMAT = 1  # bump when the IR or the marker changes; older folders are then rebuilt
_PROBE_TEXT = "passage: 2014年国内生产总值增长7.5%左右，居民消费价格涨幅3.5%左右。"
_PROBE_MIN_COSINE = 0.9999
_SUPPORTED_MODEL_TYPES = ("bert", "xlm-roberta")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_STALE_S = 3600.0


@dataclass(frozen=True)
class Layout:
    """What the backend needs to know of a sentence-transformers folder."""

    max_seq_length: int
    prompts: dict[str, str]
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"max_seq_length": self.max_seq_length, "prompts": dict(self.prompts),
                "dim": self.dim}


def read_layout(model_dir: Path) -> Layout:
    """Check that ``model_dir`` is Transformer → mean Pooling → Normalize over a BERT-style
    model with a fast tokenizer, and return its settings; anything else is a ModelError (the
    caller then uses torch)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"] or modules[0].get("path", "") != "":
            raise ModelError(f"modules {kinds} are not Transformer, Pooling, Normalize")
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text("utf-8"))
        mode = pooling.get("pooling_mode")
        if mode is None and pooling.get("pooling_mode_mean_tokens"):
            mode = "mean"
        if mode != "mean" or not pooling.get("include_prompt", True):
            raise ModelError(f"pooling {pooling} is not mean pooling over all tokens")
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if bert.get("do_lower_case"):
            raise ModelError("lower-casing tokenizers are not supported")
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") not in _SUPPORTED_MODEL_TYPES:
            raise ModelError(f"model type {config.get('model_type')!r} is not supported")
        st_path = model_dir / "config_sentence_transformers.json"
        st = json.loads(st_path.read_text(encoding="utf-8")) if st_path.is_file() else {}
        if not (model_dir / "tokenizer.json").is_file():
            raise ModelError("the folder has no tokenizer.json")
        max_len = int(bert.get("max_seq_length") or config.get("max_position_embeddings", 512))
        return Layout(max_seq_length=max_len, prompts=dict(st.get("prompts") or {}),
                      dim=int(pooling.get("embedding_dimension") or config["hidden_size"]))
    except ModelError as exc:
        raise ModelError(f"{model_dir} cannot run on OpenVINO: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"{model_dir} cannot run on OpenVINO: unreadable config ({exc})") from None


def ir_dir(model_dir: Path, cache_dir: Path) -> Path:
    """Folder of the IR converted from ``model_dir``: named by the model folder, a key of its
    files (configs, tokenizer and weight sizes and times) and the OpenVINO version."""
    return Path(cache_dir) / "openvino" / f"{model_dir.name}-{_model_key(model_dir)}-ov{_ov_version()}"


def prepare_ir(model_dir: Path, cache_dir: Path, *, force: bool = False) -> Path:
    """A complete IR folder for ``model_dir``, converting (once) only when needed.

    Builds in a temporary folder and renames it into place, under a lock, like the model
    conversion itself; older IRs of the same model folder are removed.
    """
    model_dir = Path(model_dir)
    layout = read_layout(model_dir)
    target = ir_dir(model_dir, cache_dir)
    if not force and is_complete(target):
        return target
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create OpenVINO cache {parent}: {exc}") from None
    with file_lock(parent / f".{target.name}.lock"):
        if not force and is_complete(target):
            return target
        build_folder(target, lambda tmp: _convert(model_dir, layout, tmp), what="OpenVINO model")
        _remove_other_irs(parent, model_dir.name, keep=target.name)
    return target


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished conversion whose files match its marker."""
    try:
        marker = json.loads((folder / IR_MARKER).read_text(encoding="utf-8"))
        if not isinstance(marker, dict) or marker.get("format") != _IR_FORMAT:
            return False
        files = marker["files"]
        for name in ("model.xml", "model.bin"):
            if (folder / name).stat().st_size != files[name]["size"]:
                return False
        return bool(_sha256(folder / "model.xml") == files["model.xml"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


class OpenVINOEmbedder(QueryCache):
    """The same vectors as :class:`rag.embed.SentenceTransformerEmbedder` (cosine ≥ 0.999, a
    test), computed by the OpenVINO runtime. Same fingerprint: indexes built by either
    backend are interchangeable."""

    def __init__(self, model_path: str, *, cache_dir: Path, name: str | None = None,
                 batch_size: int = 16, threads: int | None = None) -> None:
        super().__init__()
        model_dir = Path(model_path)
        if not model_dir.is_dir():
            raise ModelError(f"{model_path!r} is not a local model folder")
        self._layout = read_layout(model_dir)
        self.name = name or model_path
        self.dim = self._layout.dim
        self.batch_size = batch_size
        self.threads = threads
        self.converted = False  # True when this load had to convert (tests check reuse)
        self._query_prompt = self._layout.prompts.get("query")
        self._passage_prompt = self._layout.prompts.get("passage")
        self.fingerprint = model_fingerprint(str(model_dir), self.dim, self._layout.prompts)
        self._tokenizer = self._load_tokenizer(model_dir)
        self._lock = threading.Lock()
        folder = ir_dir(model_dir, cache_dir)
        for attempt in range(2):  # a cached IR that fails its checks is converted once more
            was_complete = is_complete(folder)
            folder = prepare_ir(model_dir, cache_dir, force=attempt > 0)
            self.converted = self.converted or attempt > 0 or not was_complete
            self.ir_dir = folder
            problem = self._compile(folder)
            if problem is None:
                return
        raise ModelError(f"OpenVINO model in {folder} fails its check after conversion: {problem}")

    def _load_tokenizer(self, model_dir: Path) -> Any:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises its own exception type
            raise ModelError(f"cannot load tokenizer of {model_dir}: {exc}") from None
        cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        pad = cfg.get("pad_token") or "<pad>"
        pad = pad["content"] if isinstance(pad, dict) else pad
        pad_id = tok.token_to_id(pad)
        if pad_id is None:
            raise ModelError(f"tokenizer of {model_dir} has no pad token {pad!r}")
        tok.no_padding()
        tok.enable_truncation(max_length=self._layout.max_seq_length)
        tok.enable_padding(pad_id=pad_id, pad_token=pad)
        return tok

    def _compile(self, folder: Path) -> str | None:
        """Compile the IR and check it on the probe text; the reason it is unusable, or None."""
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads)
        try:
            marker = json.loads((folder / IR_MARKER).read_text(encoding="utf-8"))
            compiled = ov.Core().compile_model(str(folder / "model.xml"), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError and its own types
            return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        self._request = compiled.create_infer_request()
        self._input_names = {i.get_any_name() for i in compiled.inputs}
        probe = np.asarray(marker.get("probe_vector", []), dtype=np.float32)
        got = self._encode([_PROBE_TEXT], None)
        if probe.shape != (self.dim,) or float(got[0] @ probe) < _PROBE_MIN_COSINE:
            return "the probe text's vector differs from torch's"
        return None

    def _encode(self, texts: list[str], prompt: str | None, *, progress: bool = False) -> np.ndarray:
        """Encode in length-sorted batches (less padding), as sentence-transformers does."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        full = [prompt + t if prompt else t for t in texts]
        order = sorted(range(len(full)), key=lambda i: -len(full[i]))
        out = np.empty((len(full), self.dim), dtype=np.float32)
        bar = _progress(len(full)) if progress else None
        try:
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                out[rows] = self._batch([full[i] for i in rows])
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        with self._lock:  # one infer request; the server may encode from several threads
            hidden = np.asarray(self._request.infer(feed)[0], dtype=np.float32)
        return _mean_normalise(hidden, mask)


def _mean_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the unmasked tokens, then L2 normalisation (sentence-transformers' Pooling
    and Normalize modules)."""
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="text", desc="encoding")


# --------------------------------------------------------------------------- conversion


def _convert(model_dir: Path, layout: Layout, out: Path) -> None:
    """Trace the torch model into an OpenVINO IR in ``out``; the marker (with the torch vector
    of the probe text) is written last."""
    started = time.monotonic()
    import openvino as ov
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(model_dir)).eval()
    except Exception as exc:  # transformers raises many types; all mean "cannot load"
        raise ModelError(f"cannot load {model_dir} for OpenVINO conversion: {exc}") from None

    class _Hidden(torch.nn.Module):
        """The encoder with named tensor inputs and its last hidden state as the output."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = {name: torch.ones(2, 8, dtype=torch.long) for name in _INPUTS}
    example["token_type_ids"] = torch.zeros(2, 8, dtype=torch.long)
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches
        try:
            ir = ov.convert_model(_Hidden(model), example_input=example,
                                  input=[(n, [-1, -1], ov.Type.i64) for n in _INPUTS])
        except Exception as exc:  # the converter raises many types
            raise ModelError(f"OpenVINO cannot convert {model_dir}: {exc}") from None
        ov.save_model(ir, str(out / "model.xml"), compress_to_fp16=False)
        probe = _torch_probe(model, model_dir, layout)
    marker = {
        "format": _IR_FORMAT,
        "model_dir": str(model_dir),
        "model_key": _model_key(model_dir),
        "openvino_version": _ov_version(),
        "torch_version": _dist_version("torch"),
        "transformers_version": _dist_version("transformers"),
        "files": {name: {"size": (out / name).stat().st_size, "sha256": _sha256(out / name)}
                  for name in ("model.xml", "model.bin")},
        "probe_text": _PROBE_TEXT,
        "probe_vector": [round(float(x), 7) for x in probe],
        "seconds": round(time.monotonic() - started, 1),
    }
    tmp = out / (IR_MARKER + ".tmp")
    tmp.write_text(json.dumps(marker) + "\n", encoding="utf-8")
    os.replace(tmp, out / IR_MARKER)


def _torch_probe(model: Any, model_dir: Path, layout: Layout) -> np.ndarray:
    """The probe text's vector as torch computes it (tokenised as at run time)."""
    import torch
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=layout.max_seq_length)
    enc = tok.encode(_PROBE_TEXT)
    ids = torch.tensor([enc.ids], dtype=torch.long)
    mask = torch.tensor([enc.attention_mask], dtype=torch.long)
    hidden = model(input_ids=ids, attention_mask=mask,
                   token_type_ids=torch.zeros_like(ids)).last_hidden_state
    return _mean_normalise(hidden.numpy(), mask.numpy())[0]


def _model_key(model_dir: Path) -> str:
    """Identity of a model folder, cheap to compute at every load: its small config files'
    bytes, and the size and modification time of its weights and tokenizer."""
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json", "tokenizer_config.json"):
        with contextlib.suppress(OSError):
            h.update(name.encode() + (model_dir / name).read_bytes())
    for f in sorted([*model_dir.glob("*.safetensors"), *model_dir.glob("*.bin"),
                     model_dir / "tokenizer.json"]):
        with contextlib.suppress(OSError):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _remove_other_irs(parent: Path, model_name: str, *, keep: str) -> None:
    """Drop IRs of older versions of the same model folder, and stale build folders."""
    now = time.time()
    ours = re.compile(re.escape(model_name) + r"-[0-9a-f]{12}-ov[^/]+")
    for other in parent.iterdir():
        if other.name != keep and ours.fullmatch(other.name) and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
    for leftover in parent.glob(f".{model_name}-*.*-*"):
        with contextlib.suppress(OSError):
            if leftover.is_dir() and now - leftover.stat().st_mtime > _STALE_S:
                shutil.rmtree(leftover, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ov_version() -> str:
    return _dist_version("openvino") or "none"


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
