"""An example ssl-video plugin package (entry points in its pyproject.toml).

``arrow_of_time``: a pretext task (is this clip played forwards or backwards?); ``centroid``: a
protocol kind (nearest class centroid on frozen features). ``arrow_of_time.yaml`` and
``centroid.yaml`` beside this file are a recipe and a protocol to pass to ``ssl-video`` by path.
"""

from importlib.resources import files


def resource(name: str) -> str:
    """Path of a YAML shipped with the package (a recipe or a protocol)."""
    return str(files(__name__) / name)
