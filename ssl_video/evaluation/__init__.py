"""Evaluation protocols (so far: nearest-neighbour retrieval) and the shared feature extractor."""

from .features import extract_video_features, multi_clip_indices, pool5
from .protocol import protocol_hash
from .retrieval import RetrievalProtocol, recall_at_k, run_retrieval

__all__ = [
    "RetrievalProtocol",
    "extract_video_features",
    "multi_clip_indices",
    "pool5",
    "protocol_hash",
    "recall_at_k",
    "run_retrieval",
]
