"""ssl-video: self-supervised video pretraining and benchmark suite."""

__version__ = "0.1.0"
