"""Exact retrieval and kNN against the matrix-product bound, in one run, as ratios.

At --queries x --gallery x --dim (default 10,000 x 10,000 x 512, 2 threads), on the same float32
features, times side by side:

* gemm: the bare ``torch.mm`` of the normalised query and gallery matrices, once allocating its
  (Q, G) output and once into a preallocated one; the faster of the two is the bound;
* gemm + topk(50|200): the same product, blocked as the search blocks it, plus ``torch.topk``
  (no exactness: what a fast, tie-unaware search costs);
* faiss: ``IndexFlatIP`` add + search of 50 or 200 neighbours (FAISS's exact flat search, float32);
* retrieval: ``recall_at_k`` (R@1/5/10/20/50, exact tie-aware ranking) from raw features;
* knn: ``knn_scores`` (k = 200, T = 0.07, exact top-1/top-5 class sets) from raw features;
* the same two on all-identical features (every similarity ties: the worst case for tie handling).

Features: class-clustered Gaussians (101 classes), normalised once for gemm/faiss. Timing:
``time.perf_counter``, one warm-up run of every case (the search's one-time matrix-product
self-check happens there), then ``--repeats`` runs, cases interleaved per repeat; ratios use each
case's fastest run (the least disturbed by other load on a shared machine), medians are shown too.
A one-second pause before each timed run lets the previous case's BLAS and OpenMP worker threads
stop spinning (FAISS's otherwise slow down whatever runs next).

    python benchmarks/search_speed.py --out /tmp/search.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import ssl_video.evaluation  # noqa: F401  (the process state of `ssl-video eval`: decoders imported)
from ssl_video.evaluation import knn_scores, l2_normalize, recall_at_k
from ssl_video.evaluation.neighbours import checked_matmul


def features(rng: np.random.Generator, n: int, dim: int, classes: int, centres: np.ndarray):
    labels = rng.integers(0, classes, n)
    return (centres[labels] + 6.0 * rng.normal(size=(n, dim))).astype(np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--gallery", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(101, args.dim))
    q, ql = features(rng, args.queries, args.dim, 101, centres)
    g, gl = features(rng, args.gallery, args.dim, 101, centres)
    qn, gn = l2_normalize(q), l2_normalize(g)
    tq, tg = torch.from_numpy(qn), torch.from_numpy(gn)
    same = np.tile(q[:1], (args.queries, 1)), np.tile(q[:1], (args.gallery, 1))
    block = max(1, (1 << 24) // args.gallery)

    out = torch.empty(min(block, args.queries), args.gallery)
    full_out = torch.empty(args.queries, args.gallery)  # the product alone, without allocating its output

    def gemm_topk(k):
        for s in range(0, args.queries, block):
            n = min(block, args.queries - s)
            torch.topk(torch.mm(tq[s : s + n], tg.T, out=out[:n]), k, dim=1)

    def faiss_flat(k):
        index = faiss.IndexFlatIP(args.dim)
        index.add(gn)
        index.search(qn, k)

    cases: dict[str, Callable[[], object]] = {
        "gemm (torch.mm)": lambda: torch.mm(tq, tg.T),
        "gemm (torch.mm, preallocated output)": lambda: torch.mm(tq, tg.T, out=full_out),
        "gemm + topk(50), blocked": lambda: gemm_topk(50),
        "gemm + topk(200), blocked": lambda: gemm_topk(200),
        "faiss IndexFlatIP, 50 nn": lambda: faiss_flat(50),
        "faiss IndexFlatIP, 200 nn": lambda: faiss_flat(200),
        "retrieval R@k (ours)": lambda: recall_at_k(q, ql, g, gl),
        "knn k=200 (ours)": lambda: knn_scores(g, gl, q, 101),
        "retrieval R@k, all ties (ours)": lambda: recall_at_k(same[0], ql, same[1], gl),
        "knn k=200, all ties (ours)": lambda: knn_scores(same[1], gl, same[0], 101),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up (and the search's one-time self-check)
        fn()
    for _ in range(args.repeats):
        for name, fn in cases.items():
            time.sleep(1.0)  # let the previous case's BLAS / OpenMP threads stop spinning
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    fastest = {name: min(t) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    # the bound: the faster of the two products (a fresh 400 MB output costs page faults on some machines)
    gemms = ("gemm (torch.mm)", "gemm (torch.mm, preallocated output)")
    bound, bound_median = min(fastest[n] for n in gemms), min(median[n] for n in gemms)
    lines = [
        f"{args.queries} queries x {args.gallery} gallery x {args.dim}-d, {args.threads} threads, "
        f"{args.repeats} runs after 1 warm-up; search matrix product: {checked_matmul()[0]}",
        "",
        "Ratios are to the faster of the two products (fastest runs, and medians).",
        "",
        "| case | fastest (s) | / gemm | median (s) | / gemm |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {fastest[name]:.3f} | {fastest[name] / bound:.2f} | {median[name]:.3f} | "
        f"{median[name] / bound_median:.2f} |"
        for name in cases
    ]
    lines += [
        "",
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average "
        f"after the run {os.getloadavg()[0]:.2f}; torch {torch.__version__}, numpy {np.__version__}, "
        f"faiss {faiss.__version__}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
