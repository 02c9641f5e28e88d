"""Evaluation: versioned protocols (a registry of :class:`Protocol` kinds: retrieval, kNN, linear
probes, finetuning, low-shot, and third-party ones), the shared multi-clip feature extractor and its
on-disk cache, and ``evaluate`` that runs any protocol."""

from .cache import FeatureCache, extract_features, state_dict_hash
from .features import clip_indices, dense_window_indices, extract_video_features, multi_clip_indices, pool5
from .knn import knn_scores, topk_accuracy, topk_chance, topk_hits
from .linear import mean_class_accuracy, train_linear
from .neighbours import center_and_normalize, l2_normalize, rank_neighbours
from .protocol import protocol_hash
from .protocols import (
    PROTOCOL_KINDS,
    Extraction,
    KnnProtocol,
    LinearProtocol,
    Protocol,
    RetrievalProtocol,
    extraction_hash,
    list_protocols,
    load_protocol,
    protocol_identity,
    register_protocol_kind,
)
from .retrieval import recall_at_k, recall_chance, recall_hits, run_retrieval
from .runner import evaluate

__all__ = [
    "PROTOCOL_KINDS",
    "Extraction",
    "FeatureCache",
    "KnnProtocol",
    "LinearProtocol",
    "Protocol",
    "RetrievalProtocol",
    "center_and_normalize",
    "clip_indices",
    "dense_window_indices",
    "evaluate",
    "extract_features",
    "extract_video_features",
    "extraction_hash",
    "knn_scores",
    "l2_normalize",
    "list_protocols",
    "load_protocol",
    "mean_class_accuracy",
    "multi_clip_indices",
    "pool5",
    "protocol_hash",
    "protocol_identity",
    "rank_neighbours",
    "register_protocol_kind",
    "recall_at_k",
    "recall_chance",
    "recall_hits",
    "run_retrieval",
    "state_dict_hash",
    "topk_accuracy",
    "topk_chance",
    "topk_hits",
    "train_linear",
]
