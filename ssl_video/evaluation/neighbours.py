"""Exact, deterministic nearest-neighbour ranking by cosine similarity, shared by retrieval and kNN.

The ranking rule: gallery items by decreasing similarity, equal similarities by increasing gallery
index. A pair's similarity is the float64 sum of the elementwise products of the two float32 unit
vectors (:func:`exact_sims`: the products are exact, and equal rows give bitwise-equal sums), which is
what a NumPy float64 brute force computes. The ranking equals that brute force's; it costs about one
float32 matrix product plus the selection of the best m per query:

1. Float32 scores of a block of queries against the whole gallery, each within ``e_i`` of the exact
   similarity (:func:`error_bound`: the bound for a sum of D rounded products in any order, scaled by
   the vector norms).
2. The m = depth + margin best float32 scores of each row are the candidates: from FAISS's flat
   search (``IndexFlatIP``, which selects while it multiplies) when it passes its self-check, else
   from one product (B, D) @ (D, G) and ``torch.topk``; blocks where many rows need all their scores
   (ties everywhere) go on with the product. Two
   items whose float32 scores differ by more than ``2 e_i`` are in the right order whatever the
   rounding; an item outside the candidates cannot enter the top ``depth`` unless the last candidate
   is within ``2 e_i`` of the depth-th, and such a row is ranked from its whole row of scores.
3. Items in a near-tie chain (neighbours in float32 order within ``2 e_i``) that crosses a cut
   (a position whose split matters: every position by default, each k for R@k, k for kNN) get their
   exact similarity and are ordered by (-exact, index); other chains cannot change any cut. With
   identical gallery vectors (collapsed features) one exact similarity per distinct vector is
   computed.
4. Where near ties are everywhere (dense, high-dimensional features such as VCOP's 9216-d pool5,
   whose float32 bound is ~5e-4), re-scoring them one by one would cost more than a float64 product:
   such blocks (and the ones after them) are scored with NumPy's float64 product instead, whose
   bound is ~1e-12, and ranked the same way.

The matrix product and FAISS are checked once per process before their first use
(:func:`checked_matmul`, :func:`faiss_usable`) on a problem large enough to take the BLAS path, against
elementwise float64 sums: a BLAS that returns wrong numbers (NVBLAS without a GPU, see
:mod:`ssl_video.blas_guard`) is replaced by NumPy's, whose symbols nothing can intercept, FAISS is
not used, and if no product passes, the search raises instead of publishing a wrong number.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

import numpy as np
import torch

from ..blas_guard import nvblas_libraries

# (a (B, D) float32, b (G, D) float32, out (B, G) float32 C-contiguous) -> out = a @ b.T
Matmul = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_U32, _U64 = 2.0**-24, 2.0**-53  # unit roundoff of float32 and float64
_TINY = 2.0**-126  # smallest normal float32: covers products flushed to zero
_BLOCK_SCORES = 1 << 24  # float32 scores per block of queries (64 MiB)
# float64 products per chunk of exact similarities (2 MiB: chunks that stay in cache are ~5x faster
# than large temporaries here)
_EXACT_BUDGET = 1 << 18
# An elementwise exact similarity costs about as much as this many (query, gallery) scores of a
# float64 matrix product (measured here: ~1.5 ns per float64 product elementwise in 2 MB chunks,
# ~0.02 ns in BLAS).
_EXACT_COST = 75


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """(N, D) rows scaled to unit length (zero rows stay zero): cosine similarity becomes a dot product."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _mean(x: np.ndarray) -> np.ndarray | float:
    """Float64 mean of the rows of (N, D) ``x``; 0 for no rows (never nan)."""
    return x.astype(np.float64).mean(0) if len(x) else 0.0


def center_and_normalize(
    query: np.ndarray, gallery: np.ndarray, center: bool, query_ok: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, D), (G, D) -> the same, optionally centred as CoCLR's ``test_retrieval`` does, then
    L2-normalised: queries minus the mean of the (usable) queries, gallery minus the mean of the
    gallery, each set by its own mean. Queries with ``query_ok`` False are left out of their mean."""
    if center:
        usable = query if query_ok is None else query[np.asarray(query_ok, dtype=bool)]
        query = (query - _mean(usable)).astype(np.float32)
        gallery = (gallery - _mean(gallery)).astype(np.float32)
    return l2_normalize(query), l2_normalize(gallery)


# --------------------------------------------------------------------------------------------
# Exact similarities and the float32 error bound
# --------------------------------------------------------------------------------------------


def exact_sims(query: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Elementwise float64 similarities of paired rows: (N, D), (N, D) float32 -> (N,) float64.

    The products of float32 numbers are exact in float64 and every pair is summed the same way, so
    equal rows give bitwise-equal values on every path. Chunked to bound memory.
    """
    return exact_gathered_sims(query, gallery, np.arange(len(query)), np.arange(len(gallery)))


def exact_gathered_sims(
    query: np.ndarray, gallery: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """:func:`exact_sims` of (query[rows[n]], gallery[cols[n]]) -> (n,) float64, gathered chunk by chunk
    (no (n, D) temporaries)."""
    out = np.empty(len(rows))
    chunk = max(1, _EXACT_BUDGET // max(1, query.shape[1]))
    for s in range(0, len(rows), chunk):
        q = query[rows[s : s + chunk]].astype(np.float64)
        out[s : s + chunk] = (q * gallery[cols[s : s + chunk]].astype(np.float64)).sum(-1)
    return out


def first_equal_rows(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N,) int64: for every row, the lowest index of a row bitwise equal to it (a dict of the
    rows' bytes: linear time, where sorting rows costs ~30x more)."""
    x = np.ascontiguousarray(x)
    first: dict[bytes, int] = {}
    return np.fromiter((first.setdefault(row.tobytes(), i) for i, row in enumerate(x)), np.int64, len(x))


def exact_pair_sims(query: np.ndarray, gallery: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`exact_sims` of the pairs (query[rows[n]], gallery[cols[n]]) -> (n,) float64, each distinct
    pair of vectors computed once (collapsed features make every pair the same)."""
    if len(rows) == 0:
        return np.zeros(0)
    if len(rows) <= len(query) + len(gallery):  # few pairs: finding equal rows would cost more
        return exact_gathered_sims(query, gallery, rows, cols)
    q_first, q_id = np.unique(first_equal_rows(query), return_inverse=True)  # dense ids of distinct rows
    g_first, g_id = np.unique(first_equal_rows(gallery), return_inverse=True)
    n_g = len(g_first)
    key = q_id.ravel()[rows] * n_g + g_id.ravel()[cols]
    if len(q_first) * n_g <= 4 * len(key):  # a table instead of a sort
        used = np.zeros(len(q_first) * n_g, dtype=bool)
        used[key] = True
        distinct, inverse = np.flatnonzero(used), (np.cumsum(used) - 1)[key]
    else:
        distinct, inverse = np.unique(key, return_inverse=True)
    sims = exact_sims(query[q_first[distinct // n_g]], gallery[g_first[distinct % n_g]])
    return sims[inverse.ravel()]


def error_bound(query: np.ndarray, gallery: np.ndarray, unit: float = _U32) -> np.ndarray:
    """(Q,) float64: per query, a bound on |score - exact similarity| over the whole gallery, for
    scores summed in float32 (``unit`` = 2^-24, the default) or float64 (2^-53) from float32 inputs.

    gamma_D = D u / (1 - D u) bounds the rounding of a sum of D products in any order (with or without
    FMA), times |q| max|g| by Cauchy-Schwarz; the float64 reference's own rounding and products
    flushed to zero are added. Zero for a zero query (its scores are exactly 0).
    """
    d = query.shape[1]
    if d * unit >= 0.5:
        raise ValueError(f"feature dimension {d} is too large for an error bound")
    gamma = d * unit / (1 - d * unit) + d * _U64 / (1 - d * _U64)
    # float32 norms are within d * u of the exact ones: inflated by twice that, they bound them
    inflate = 1 + 2 * (d + 2) * _U32
    g_max = float(np.sqrt(np.einsum("ij,ij->i", gallery, gallery)).max()) * inflate if len(gallery) else 0.0
    q_norm = np.sqrt(np.einsum("ij,ij->i", query, query)).astype(np.float64) * inflate
    return (gamma * q_norm * g_max + d * _TINY) * (q_norm > 0) * 1.0001


# --------------------------------------------------------------------------------------------
# The matrix product, checked once per process
# --------------------------------------------------------------------------------------------


def _torch_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    torch.mm(torch.from_numpy(a), torch.from_numpy(b).T, out=torch.from_numpy(out))
    return out


def _numpy_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.matmul(a, b.T, out=out)


# (name, product of (B, D) float32 and (G, D) float32 -> (B, G) float32, goes through the global
# ``sgemm_`` symbol), fastest first. NumPy's BLAS has suffixed symbol names (scipy-openblas), so no
# library loaded beside it can intercept its calls; torch's CPU BLAS can be (and then may crash).
MATMULS: tuple[tuple[str, Matmul, bool], ...] = (
    ("torch.mm", _torch_matmul, True),
    ("numpy", _numpy_matmul, False),
)
_chosen: tuple[str, Matmul] | None = None
_choose_lock = threading.Lock()


def matmul_error(matmul: Matmul, size: int = 1024, dim: int = 512) -> str | None:
    """Why ``matmul`` gives wrong scores on a random (size, dim) x (size, dim) unit-vector problem
    (5e8 multiply-adds: above the size where an offloading BLAS takes over), or None when every
    checked score is within :func:`error_bound` of the elementwise float64 similarity."""
    rng = np.random.default_rng(20261203)
    a = l2_normalize(rng.standard_normal((size, dim)))
    b = l2_normalize(rng.standard_normal((size, dim)))
    try:
        got = np.asarray(matmul(a, b, np.empty((size, size), np.float32)), dtype=np.float64)
    except Exception as exc:  # a broken BLAS may raise instead of returning garbage
        return f"raised {type(exc).__name__}: {exc}"
    if got.shape != (size, size):
        return f"returned shape {got.shape}, expected {(size, size)}"
    rows = np.arange(0, size, 31)
    pairs_q, pairs_g = np.repeat(rows, size), np.tile(np.arange(size), len(rows))
    ref = exact_sims(a[pairs_q], b[pairs_g]).reshape(len(rows), size)
    worst = np.abs(got[rows] - ref) / error_bound(a[rows], b)[:, None]
    if not np.all(np.isfinite(got[rows])) or worst.max() > 1:
        wrong = int(np.sum(~(worst <= 1)))
        return f"{wrong} of {worst.size} checked scores are outside the float32 error bound"
    return None


def _cause() -> str:
    libs = nvblas_libraries()
    if libs:
        return (
            f"NVBLAS ({', '.join(libs)}) is loaded in this process and intercepts CPU BLAS calls; decord2 "
            "loads it when imported before ssl_video or torch. Import ssl_video before decord"
        )
    return "the BLAS library in use returns wrong products on this machine"


def checked_matmul(candidates: tuple[tuple[str, Matmul, bool], ...] | None = None) -> tuple[str, Matmul]:
    """The first of ``candidates`` (default :data:`MATMULS`) whose products pass :func:`matmul_error`.

    While NVBLAS is loaded, products that go through the global ``sgemm_`` are not even tried (NVBLAS
    without a GPU returns garbage or crashes the process). The default choice is made once per process
    and kept. Warns when a faster product was skipped; raises RuntimeError naming the cause when none
    passes.
    """
    global _chosen
    if candidates is None and _chosen is not None:
        return _chosen
    with _choose_lock:
        if candidates is None and _chosen is not None:
            return _chosen
        failures = []
        nvblas = nvblas_libraries()
        for name, matmul, interceptable in candidates or MATMULS:
            if interceptable and nvblas:
                failures.append(f"{name} was not tried (it would call NVBLAS)")
                continue
            problem = matmul_error(matmul)
            if problem is None:
                if failures:
                    warnings.warn(
                        f"nearest-neighbour search uses {name}: {'; '.join(failures)} ({_cause()})",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                if candidates is None:
                    _chosen = (name, matmul)
                return name, matmul
            failures.append(f"{name} failed the self-check ({problem})")
        raise RuntimeError(
            "nearest-neighbour search refused to run: every matrix product failed its self-check: "
            f"{'; '.join(failures)}. Cause: {_cause()}."
        )


def faiss_candidates(query: np.ndarray, gallery: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """FAISS's exact flat search (``IndexFlatIP``): (Q, m) float32 scores, sorted descending, and their
    gallery indices. Its selection is fused with its blocked product, so it is cheaper than a
    product followed by ``torch.topk`` for large m."""
    return _faiss_index(gallery).search(query, m)


def _faiss_index(gallery: np.ndarray):
    """A FAISS ``IndexFlatIP`` over the (G, D) float32 gallery, searching with torch's thread count."""
    import faiss

    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    return index


def faiss_error(size: int = 1024, dim: int = 512, k: int = 20) -> str | None:
    """Why FAISS's candidates are wrong on a random unit-vector problem (as :func:`matmul_error`),
    or None when every returned score is within :func:`error_bound` of the exact similarity and no
    item left out is above the k-th returned one by more than the bound."""
    rng = np.random.default_rng(20261204)
    a = l2_normalize(rng.standard_normal((size, dim)))
    b = l2_normalize(rng.standard_normal((size, dim)))
    try:
        values, cand = faiss_candidates(a, b, k)
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"
    if values.shape != (size, k) or cand.min() < 0 or cand.max() >= size:
        return "returned malformed candidates"
    rows = np.arange(0, size, 31)
    bound = error_bound(a[rows], b)[:, None]
    got = exact_sims(a[np.repeat(rows, k)], b[cand[rows].ravel()]).reshape(len(rows), k)
    full = exact_sims(a[np.repeat(rows, size)], b[np.tile(np.arange(size), len(rows))]).reshape(len(rows), -1)
    kth = -np.sort(-full, axis=1)[:, k - 1 : k]
    if not np.all(np.abs(values[rows] - got) <= bound) or np.any(kth > values[rows, -1:] + 2 * bound):
        return "its scores or neighbours are outside the float32 error bound"
    return None


_faiss_state: bool | None = None


def faiss_usable() -> bool:
    """Whether this process may take candidates from FAISS: it imports, NVBLAS is not loaded (FAISS's
    ``sgemm_`` would resolve to it) and :func:`faiss_error` finds nothing. Checked once per process;
    a failed check warns and the search uses the checked matrix product and ``torch.topk``."""
    global _faiss_state
    if _faiss_state is None:
        with _choose_lock:
            if _faiss_state is None:
                try:
                    import faiss  # noqa: F401
                except ImportError:
                    _faiss_state = False
                    return False
                problem = "not tried: NVBLAS is loaded" if nvblas_libraries() else faiss_error()
                if problem is not None:
                    warnings.warn(
                        f"nearest-neighbour search does not use FAISS: {problem}", RuntimeWarning, 2
                    )
                _faiss_state = problem is None
    return _faiss_state


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


class _Gallery:
    """The gallery (G, D) float32 with its float64 copy and, on first need, a representative row per
    distinct vector (``rep[j]`` = lowest index of a row bitwise equal to row j)."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows
        self._rep: np.ndarray | None = None

    @property
    def rep(self) -> np.ndarray:
        if self._rep is None:
            self._rep = first_equal_rows(self.rows)
        return self._rep


def _top_of_set(
    query: np.ndarray, scores: np.ndarray, exact_ok: bool, members: np.ndarray, gallery: _Gallery, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``depth`` of ``members`` (index-sorted gallery rows) by (-exact similarity, index).

    One exact similarity per distinct vector; ``exact_ok``: the float32 ``scores`` (G,) are exact (zero
    query). Cost O(len(members)) plus the exact similarities, also when all members tie.
    """
    reps = gallery.rep[members]
    if reps.min() == reps.max():  # one distinct vector (collapsed features): they all tie
        value = scores[reps[:1]] if exact_ok else exact_sims(query[None], gallery.rows[reps[:1]])
        return np.full(depth, float(value[0])), members[:depth]
    distinct, member_of = np.unique(reps, return_inverse=True)
    if exact_ok:
        value = scores[distinct].astype(np.float64)
    else:
        value = exact_sims(np.broadcast_to(query, (len(distinct), query.shape[0])), gallery.rows[distinct])
    levels, level_of = np.unique(-value, return_inverse=True)  # level 0 = highest similarity
    member_level = level_of[member_of]
    filled = np.cumsum(np.bincount(member_level, minlength=len(levels)))
    cut = int(np.searchsorted(filled, depth))  # the level that holds the depth-th member
    above = np.flatnonzero(member_level < cut)
    above = above[np.lexsort((members[above], member_level[above]))]
    last = np.flatnonzero(member_level == cut)[: depth - len(above)]  # members are index-sorted
    chosen = np.concatenate([above, last])
    return -levels[member_level[chosen]], members[chosen]


def _margin(depth: int, n_gallery: int) -> int:
    """Candidates per query: depth plus a margin that keeps rows ranked from all their scores rare."""
    return min(n_gallery, depth + 16 + depth // 16)


def _rank_candidates(
    query: np.ndarray,
    values: np.ndarray,
    cand: np.ndarray,
    err: np.ndarray,
    gallery: _Gallery,
    depth: int,
    cuts: np.ndarray,
    full_scores: Callable[[np.ndarray], np.ndarray],
    refuse_costly: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Top ``depth`` of a block of queries (B, D) from their m best float32 scores ``values`` (B, m),
    sorted descending, gallery indices ``cand`` (B, m), every other score at most the last candidate's,
    and error bounds ``err`` (B,); the split after every position in ``cuts`` (1 <= c <= depth) is
    exactly the brute force's. ``full_scores(rows)`` gives all (n, G) float32 scores of those rows."""
    n_rows, m = values.shape
    n_gallery = len(gallery.rows)
    slack = 2 * err  # (B,) float64: differences of float32 values are exact in float64
    at = cuts[cuts < m] - 1  # positions c-1 of the cuts that have a position c among the candidates
    incomplete = np.zeros(n_rows, dtype=bool)
    if m < n_gallery:  # the last candidate may tie into the top depth: rank the row from all its scores
        incomplete = values[:, m - 1] >= values[:, depth - 1] - slack
    # Only rows with a near tie at some cut have chains to resolve (positions c-1 and c within slack).
    crossing_any = (values[:, at].astype(np.float64) - values[:, at + 1] <= slack[:, None]).any(1)
    chained = np.flatnonzero(crossing_any & ~incomplete)
    flagged = np.zeros((len(chained), m), dtype=bool)
    if len(chained):
        v = values[chained].astype(np.float64)
        near = v[:, :-1] - v[:, 1:] <= slack[chained, None]  # (n, m-1): positions p and p+1 may swap
        # Near-tie chains: positions with equal labels are linked by near pairs. A chain that crosses a
        # cut (holds positions c-1 and c) is ordered by exact similarity; others cannot change any cut.
        labels = np.zeros(v.shape, dtype=np.int64)
        np.cumsum(~near, axis=1, out=labels[:, 1:])
        resolve = np.zeros(v.shape, dtype=bool)  # per row, which chain labels to resolve
        cut_rows, cut_cols = np.nonzero(near[:, at])
        resolve[cut_rows, labels[cut_rows, at[cut_cols]]] = True
        flagged = np.take_along_axis(resolve, labels, 1)
    if refuse_costly and _EXACT_COST * int(flagged.sum()) > n_rows * n_gallery:
        return None  # re-scoring these near ties elementwise would cost more than a float64 product
    sims, idx = values[:, :depth].astype(np.float64), cand[:, :depth].copy()
    if len(chained):
        # Each flagged chain is a run of positions; its items are re-ordered among those positions by
        # (-exact similarity, gallery index). One sort of all flagged items, grouped by chain.
        rows, cols = np.nonzero(flagged)  # row-major: each chain's positions in increasing order
        items = cand[chained[rows], cols]
        exact = exact_gathered_sims(query, gallery.rows, chained[rows], items)
        order = np.lexsort((items, -exact, rows * m + labels[rows, cols]))
        key, moved = values[chained].astype(np.float64), cand[chained]
        key[rows, cols], moved[rows, cols] = exact[order], items[order]
        sims[chained], idx[chained] = key[:, :depth], moved[:, :depth]
    whole = np.flatnonzero(incomplete)
    for i, scores in zip(whole, full_scores(whole) if len(whole) else (), strict=True):
        members = np.flatnonzero(scores >= values[i, depth - 1] - slack[i])
        sims[i], idx[i] = _top_of_set(query[i], scores, err[i] == 0, members, gallery, depth)
    return sims, idx


def rank_neighbours(
    query: np.ndarray, gallery: np.ndarray, depth: int, cuts=None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` most similar gallery rows for every query, as a brute force ranks them.

    query (Q, D), gallery (G, D): unit (or zero) rows, cast to float32. Returns (similarities (Q, d)
    float64, indices (Q, d) int64) with d = min(depth, G). Order: by (-exact similarity, gallery index)
    at every position when ``cuts`` is None; with ``cuts`` (positions c), only the *set* of the first c
    neighbours is guaranteed for each c (all retrieval and kNN need, and cheaper: only near ties that
    straddle a cut are resolved). A similarity is exact where an order had to be decided and otherwise
    the float32 score, within :func:`error_bound` of exact. Raises ValueError for non-finite features.
    """
    query = np.ascontiguousarray(query, dtype=np.float32)
    gallery = np.ascontiguousarray(gallery, dtype=np.float32)
    for name, x in (("query", query), ("gallery", gallery)):
        if not np.all(np.isfinite(x)):
            bad = int(np.sum(~np.isfinite(x).all(1)))
            raise ValueError(f"{bad} {name} feature row(s) contain NaN or infinity")
    n_query, n_gallery = query.shape[0], gallery.shape[0]
    depth = min(depth, n_gallery)
    if depth == 0 or n_query == 0:
        return np.zeros((n_query, depth)), np.zeros((n_query, depth), dtype=np.int64)
    positions = np.arange(1, depth + 1) if cuts is None else np.asarray(cuts, dtype=np.int64)
    positions = np.unique(np.clip(positions, 1, depth))
    _, matmul = checked_matmul()
    err = error_bound(query, gallery)
    store = _Gallery(gallery)
    sims = np.empty((n_query, depth))
    idx = np.empty((n_query, depth), dtype=np.int64)
    m = _margin(depth, n_gallery)
    block = max(1, min(n_query, _BLOCK_SCORES // n_gallery))
    buffer = torch.empty(block, n_gallery, dtype=torch.float32).numpy()  # 64-byte aligned: faster
    # FAISS selects as it multiplies; where many rows need all their scores (collapsed features, ties
    # everywhere) that would cost a second product, so the search goes on with product + topk.
    index = _faiss_index(gallery) if m < n_gallery and faiss_usable() else None
    cache64: list[np.ndarray] = []  # the gallery in float64, once a block needs float64 scores

    def gallery64() -> np.ndarray:
        if not cache64:
            cache64.append(gallery.astype(np.float64))
        return cache64[0]

    for s in range(0, n_query, block):
        rows = slice(s, s + block)
        q = query[rows]
        whole_rows = []

        def product(which: np.ndarray, q=q, whole_rows=whole_rows) -> np.ndarray:
            whole_rows.append(len(which))
            out = buffer if len(which) <= len(buffer) else np.empty((len(which), n_gallery), np.float32)
            return matmul(q[which], gallery, out[: len(which)])

        if cache64:  # an earlier block needed float64 scores: these features will too
            block_values = block_cand = full_scores = None
        elif index is not None:
            block_values, block_cand = index.search(q, m)
            full_scores = product
        else:
            scores = product(np.arange(len(q)))
            top = torch.topk(torch.from_numpy(scores), m, dim=1)  # sorted by float32 score
            block_values, block_cand = top.values.numpy(), top.indices.numpy()

            def full_scores(which: np.ndarray, scores=scores) -> np.ndarray:
                return scores[which]

        ranked = None
        if not cache64:
            ranked = _rank_candidates(
                q, block_values, block_cand, err[rows], store, depth, positions, full_scores, True
            )
        if ranked is None:  # near ties everywhere (e.g. dense 9216-d pool5 features): float64 scores
            scores64 = np.matmul(q.astype(np.float64), gallery64().T)  # NumPy's BLAS: not interceptable
            top = torch.topk(torch.from_numpy(scores64), m, dim=1)

            def exact_rows(which: np.ndarray, scores=scores64) -> np.ndarray:
                return scores[which]

            err64 = error_bound(q, gallery, _U64)
            ranked = _rank_candidates(
                q, top.values.numpy(), top.indices.numpy(), err64, store, depth, positions, exact_rows
            )
        sims[rows], idx[rows] = ranked
        if index is not None and sum(whole_rows) > len(q) // 4:
            index = None
    return sims, idx
