"""Keep NVBLAS out of this process's global symbol scope, and say when something else put it there.

decord2 (3.4) ``dlopen``s every library under ``site-packages/nvidia/*/lib`` with ``RTLD_GLOBAL`` when
it is imported, ``libnvblas`` included. NVBLAS defines the reference BLAS names (``sgemm_``, ...) and
offloads large products to cuBLAS-XT; a library loaded afterwards (FAISS, or torch when it is imported
after decord) resolves its ``sgemm_`` to it, and without a usable GPU NVBLAS prints
``cublasXtSgemm failed with error=1`` and returns garbage for products above ~1e8 multiply-adds.

:func:`import_without_nvblas` imports a module (decord) while refusing ``libnvblas`` loads, so importing
``ssl_video`` never brings NVBLAS in. :func:`nvblas_libraries` tells whether it is loaded anyway (a
user script that imported decord first), for warnings and error messages.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import threading
from collections.abc import Iterator
from types import ModuleType

_LOCK = threading.Lock()


def nvblas_libraries() -> list[str]:
    """Paths of the NVBLAS libraries mapped into this process (Linux ``/proc/self/maps``; else [])."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "libnvblas" in line}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.basename(p).startswith("libnvblas"))


def _is_nvblas(name: object) -> bool:
    return isinstance(name, (str, os.PathLike)) and os.path.basename(os.fspath(name)).startswith("libnvblas")


@contextlib.contextmanager
def _refuse_nvblas() -> Iterator[None]:
    """While active, ``ctypes.CDLL("…/libnvblas…")`` raises OSError (as for a library that is absent)."""
    original_init = ctypes.CDLL.__init__

    def guarded_init(self, name, *args, **kwargs):
        if _is_nvblas(name):
            raise OSError(f"{name}: not loaded by ssl_video (NVBLAS would intercept CPU BLAS calls)")
        original_init(self, name, *args, **kwargs)

    with _LOCK:
        ctypes.CDLL.__init__ = guarded_init
        try:
            yield
        finally:
            ctypes.CDLL.__init__ = original_init


def import_without_nvblas(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with every ``libnvblas`` load refused during the import.

    decord2 treats a library that fails to load as absent and goes on, so CPU decoding is unaffected.
    A module imported earlier (by the user) is returned as it is.
    """
    with _refuse_nvblas():
        return importlib.import_module(name)
