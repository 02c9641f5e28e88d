"""Dataset adapters: records, registry, fingerprints, integrity and leakage checks.

``load_dataset(name, root, split, fold, **options)`` returns a ``VideoDataset`` of ``VideoRecord``s;
importing this package registers the built-in adapters (ucf101, hmdb51, kinetics400/600/700, ssv2,
folder, unlabeled, csv).
"""

from . import folder, hmdb51, kinetics, manifest, ssv2, ucf101  # noqa: F401  (register the adapters)
from .check import CheckReport, check_dataset, check_video
from .fingerprint import dataset_fingerprint
from .leakage import LeakageError, check_leakage
from .record import DatasetError, VideoDataset, VideoRecord
from .registry import list_datasets, load_dataset, register_dataset

__all__ = [
    "CheckReport",
    "DatasetError",
    "LeakageError",
    "VideoDataset",
    "VideoRecord",
    "check_dataset",
    "check_leakage",
    "check_video",
    "dataset_fingerprint",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
