"""Token choice for the local script model: transformers.generate's, step for step, without importing torch.

`choose_token` applies transformers' processors in its order (RepetitionPenalty, Temperature, TopK, TopP), softmax,
then torch.multinomial's draw, all in float32; `TorchDraws` makes torch's random numbers with numpy. Plain numpy:
unit-tested against transformers and torch in tests/providers/script/test_runtime.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOP_K = 50  # transformers' default top_k when sampling, which the reference path has always used


@dataclass(frozen=True)
class Sampling:
    temperature: float  # 0: greedy
    top_p: float
    repetition_penalty: float
    top_k: int = TOP_K


@dataclass(frozen=True)
class Bounds:
    """How far approximate logits may be from the exact ones: `at(indices)` gives the bound of those tokens, and no
    token's bound exceeds `cap` (cheap to know, and enough to rule out most of the vocabulary without its own)."""

    cap: float
    at: Callable[[Any], Any]


def _kth_largest(values: Any, k: int) -> Any:
    """The k-th largest of `values` (1-D float32). Looks among the values near the top first: when that holds k of
    them, it holds the top k, at a fraction of a partition of the whole vocabulary (~0.3 ms)."""
    import numpy as np

    top = values.max()
    for reach in (8.0, 32.0):
        near = values[values >= top - np.float32(reach)]
        if near.size >= k:
            return np.partition(near, near.size - k)[near.size - k]
    return np.partition(values, values.size - k)[values.size - k]


class TorchDraws:
    """The random numbers `torch.multinomial(probs, 1)` draws after `torch.manual_seed(seed)` on the CPU, made with
    numpy, so that sampling needs no torch (importing it is ~2 s of a ~5 s script stage).

    What torch does (ATen's `multinomial`, the path for one sample): `q = empty_like(probs).exponential_(1)`, then
    `argmax(probs / q)`. `exponential_` fills q element by element from the generator's mt19937, each value as
    `-log1p(-u)` of a 53-bit uniform `u` made from two 32-bit outputs (the first the high word), computed in double
    and stored as float32. torch seeds that mt19937 with the seed's low 32 bits (`init_genrand`), which is also what
    numpy's legacy `RandomState(seed)` does, and `randint` over the full 32-bit range hands out its raw outputs.
    tests/providers/script/test_runtime.py checks the values bit for bit against torch, and the chosen tokens against
    transformers' processors and torch.multinomial."""

    def __init__(self, seed: int):
        import numpy as np

        self._np = np
        self._mt = np.random.RandomState(seed & 0xFFFFFFFF)

    def state(self) -> Any:
        return self._mt.get_state()

    def restore(self, state: Any) -> None:
        self._mt.set_state(state)

    def _words(self, n: int) -> tuple[Any, Any]:
        """The next n pairs of 32-bit outputs: (high words, low words)."""
        raw = self._mt.randint(0, 2**32, size=2 * n, dtype=self._np.uint32)
        return raw[0::2], raw[1::2]

    def _exponential(self, high: Any, low: Any) -> Any:
        np = self._np
        bits = ((high.astype(np.uint64) << np.uint64(32)) | low.astype(np.uint64)) & np.uint64(2**53 - 1)
        return (-np.log1p(-(bits.astype(np.float64) * 2.0**-53))).astype(np.float32)

    def exponentials(self, n: int) -> Any:
        """The next `n` values of `exponential_(1)` (float32), advancing the stream as torch does."""
        return self._exponential(*self._words(n))

    def race(self, n: int, at: Any) -> tuple[Any, Any]:
        """One multinomial draw's worth: advances the stream by `n` values and returns those at the indices `at`
        (the only ones a draw over a distribution that is zero elsewhere looks at), plus all `n` values when one of
        them is 0 (u == 0, about once in 10^11 tokens: torch's argmax then lands on the NaN of 0/0), else None."""
        high, low = self._words(n)
        if not low.all() and self._np.any((low == 0) & ((high & 0x1FFFFF) == 0)):
            every = self._exponential(high, low)
            return every[at], every
        return self._exponential(high[at], low[at]), None


def choose_token(ids: Any, logits: Any, sampling: Sampling, draws: TorchDraws | None = None, *,
                 bound: Any = None, exact: Any = None) -> int:
    """The next token as transformers.generate picks it from `logits` (float32, shape [vocab]) after the tokens `ids`
    (integers: prompt and text so far). The same processors in transformers' order (RepetitionPenalty, Temperature,
    TopK, TopP), softmax, then torch.multinomial's draw (`draws`, for sampling) or argmax (greedy), all in float32 as
    torch computes them. Shortcuts that change no result: top-p sorts only the top-k survivors (the others are -inf
    already), and softmax and the draw look only at those survivors (every other probability is 0, and 0 / q is never
    the largest quotient) while the stream still advances by the whole vocabulary.

    With `bound` and `exact`, `logits` are approximate: each within `bound` (`Bounds`, or an array per token) of the
    exact logit, and `exact(indices)` computes the exact ones for those tokens. Only tokens that could be among the
    top k (top 1 when greedy) on exact logits are computed exactly: those whose upper bound reaches the k-th largest
    lower bound (both through the repetition penalty, which never reorders a token's own values). Every token whose
    exact score ties or beats the k-th is in that shortlist, so the choice is the one the exact logits of the whole
    vocabulary give (`_runtime.ShortlistHead`)."""
    import numpy as np

    approx = np.asarray(logits, dtype=np.float32).reshape(-1)
    vocab = approx.size
    penalty = np.float32(sampling.repetition_penalty)
    seen = np.unique(np.asarray(ids, dtype=np.int64)) if penalty != 1 else None

    def penalize(values: Any, where: Any) -> None:  # in place, transformers' RepetitionPenaltyLogitsProcessor
        score = values[where]
        values[where] = np.where(score < 0, score * penalty, score / penalty)

    greedy = sampling.temperature <= 0
    k = 1 if greedy else min(sampling.top_k, vocab)
    if bound is None:
        shortlist, scores = None, approx.copy()
        if seen is not None:
            penalize(scores, seen)
    else:
        if not isinstance(bound, Bounds):
            array = np.asarray(bound, dtype=np.float32)
            bound = Bounds(float(array.max()), lambda index: array[index])
        # First with the cap alone: a token whose approximate score is more than two caps below the k-th best cannot
        # reach the top k (the penalty stretches a bound by at most max(p, 1/p)). Then each remaining token's own bound.
        ranked = approx.copy()
        if seen is not None:
            penalize(ranked, seen)
        widest = bound.cap * (max(float(penalty), 1 / float(penalty)) if seen is not None else 1.0)
        pool = np.flatnonzero(ranked >= _kth_largest(ranked, k) - np.float32(2 * widest))
        margin = np.asarray(bound.at(pool), dtype=np.float32)
        lower, upper = approx[pool] - margin, approx[pool] + margin
        if seen is not None:
            said = np.isin(pool, seen, assume_unique=True)
            penalize(lower, said)
            penalize(upper, said)
        shortlist = pool[upper >= _kth_largest(lower, k)]
        scores = np.array(exact(shortlist), dtype=np.float32)
        if seen is not None:
            penalize(scores, np.isin(shortlist, seen, assume_unique=True))
    if greedy:
        best = int(np.argmax(scores))
        return best if shortlist is None else int(shortlist[best])
    if draws is None:
        raise ValueError("sampling needs draws (a TorchDraws for the turn's seed)")
    scores /= np.float32(sampling.temperature)
    k = min(k, scores.size)
    kth = np.partition(scores, scores.size - k)[scores.size - k]
    keep = np.flatnonzero(scores >= kth)  # ascending ids; ties with the k-th stay, as in transformers
    values = scores[keep]
    kept = keep if shortlist is None else shortlist[keep]
    if sampling.top_p < 1.0:
        order = np.argsort(values, kind="stable")
        ascending = values[order]
        exps = np.exp(ascending - ascending[-1])
        cumulative = np.cumsum(exps / exps.sum(dtype=np.float32), dtype=np.float32)
        remove = cumulative <= np.float32(1 - sampling.top_p)
        remove[-1] = False  # min_tokens_to_keep=1
        survive = np.ones(kept.size, dtype=bool)
        survive[order[remove]] = False
        kept, values = kept[survive], values[survive]
    exps = np.exp(values - values.max())
    probs = exps / exps.sum(dtype=np.float32)
    q, every = draws.race(vocab, kept)
    if every is not None:  # a 0 in q: 0/0 = NaN somewhere, which torch's argmax picks; do it its way
        whole = np.zeros(vocab, dtype=np.float32)
        whole[kept] = probs
        with np.errstate(divide="ignore", invalid="ignore"):
            return int(np.argmax(whole / every))
    return int(kept[np.argmax(probs / q)])
