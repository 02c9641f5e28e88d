"""One registry helper for every plugin kind (ssl_video.registry): registering, entry points loaded
once on a miss, broken plugins skipped with a warning, did-you-mean errors; and each plugin kind uses it."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from ssl_video.config import ConfigError
from ssl_video.registry import Registry


def square(x):
    return x * x


def test_register_lookup_and_duplicates():
    reg: Registry = Registry("widget", None)
    reg.register("square")(square)
    reg.add("square", square)  # the same object again is a no-op
    with pytest.raises(ValueError, match="widget 'square' is already registered"):
        reg.add("square", abs)
    assert reg.names() == ["square"] and reg["square"] is square and "square" in reg and len(reg) == 1
    with pytest.raises(
        KeyError, match=r"unknown widget 'sqare'; did you mean square\? \(registered: square\)"
    ):
        reg.get_or_raise("sqare")
    with pytest.raises(ConfigError, match=r"unknown widget 'w.name=cube' \(registered: square\)"):
        reg.get_or_raise("cube", ConfigError, what="'w.name=cube'")


def test_entry_points_load_once_on_a_miss_and_broken_ones_warn():
    reg: Registry = Registry("widget", "ssl_video.widgets", wrap=lambda f: ("wrapped", f))
    reg.add("builtin", ("builtin", abs))
    calls = []
    eps = [
        EntryPoint("sq", "test_registry:square", "ssl_video.widgets"),
        EntryPoint("broken", "no_such_module_xyz:thing", "ssl_video.widgets"),
        EntryPoint("not_callable", "math:pi", "ssl_video.widgets"),
    ]
    reg._discover = lambda group: calls.append(group) or eps
    assert reg.get_or_raise("builtin") == ("builtin", abs) and calls == []  # a hit loads nothing
    with pytest.warns(UserWarning, match="widget entry point 'broken'"):
        assert reg.get_or_raise("sq") == ("wrapped", square)
    assert calls == ["ssl_video.widgets"] and "not_callable" not in reg  # refused by `accept`
    assert reg.names() == ["builtin", "sq"] and calls == ["ssl_video.widgets"]  # loaded once


def test_every_plugin_kind_is_a_registry_with_its_entry_point_group():
    from ssl_video.datasets.registry import _ADAPTERS
    from ssl_video.encoders import ENCODERS
    from ssl_video.engine.optim import OPTIMIZERS
    from ssl_video.evaluation import PROTOCOL_KINDS
    from ssl_video.pretext import TASKS
    from ssl_video.slurm.launchers import LAUNCHERS
    from ssl_video.video import BACKENDS

    expected = {
        "ssl_video.pretext": (TASKS, {"vcop", "opn", "o3n", "shuffle_learn", "speednet", "supervised"}),
        "ssl_video.encoders": (ENCODERS, {"r3d_tiny", "r3d_18", "s3d"}),
        "ssl_video.datasets": (_ADAPTERS, {"ucf101", "hmdb51", "kinetics400"}),
        "ssl_video.video_backends": (BACKENDS, {"decord", "torchcodec", "pyav"}),
        "ssl_video.protocols": (PROTOCOL_KINDS, {"retrieval", "knn", "linear", "finetune", "lowshot"}),
        "ssl_video.optimizers": (OPTIMIZERS, {"sgd", "adamw"}),
        "ssl_video.launchers": (LAUNCHERS, {"local", "subprocess", "slurm"}),
    }
    for group, (registry, names) in expected.items():
        assert isinstance(registry, Registry) and registry.group == group
        assert names <= set(registry), (group, sorted(registry))


def test_unknown_names_suggest_the_closest_ones():
    from ssl_video.config import OptimConfig
    from ssl_video.engine.optim import build_optimizer
    from ssl_video.evaluation import load_protocol
    from ssl_video.slurm import make_launcher

    with pytest.raises(ConfigError, match=r"unknown optimizer 'optim.name=adamm'; did you mean adamw"):
        build_optimizer([], OptimConfig(name="adamm"))
    with pytest.raises(ConfigError, match=r"unknown executor 'slurn'; did you mean slurm"):
        make_launcher("slurn", "logs")
    with pytest.raises(ConfigError, match=r"unknown protocol kind 'protocol.kind=knnn' .*did you mean knn"):
        load_protocol("knn", {"kind": "knnn"})


def test_a_protocol_kind_from_outside_is_loaded_from_yaml(tmp_path):
    """A registered kind needs no edit of the loader or the runner: its YAML loads, hashes and
    answers the runner's questions (seeds, cached or not, chance) from the base class."""
    from dataclasses import dataclass

    from ssl_video.evaluation import PROTOCOL_KINDS, Protocol, load_protocol, register_protocol_kind
    from ssl_video.evaluation.protocols import evaluation_seeds, protocol_identity

    @dataclass(frozen=True)
    class Echo(Protocol):
        name: str = "echo"
        kind: str = "echo_test"
        draws: int = 3

        def default_seeds(self):
            return list(range(self.draws))

    register_protocol_kind("echo_test")(Echo)
    try:
        path = tmp_path / "echo.yaml"
        path.write_text("name: echo\nkind: echo_test\nversion: 2\nclip_len: 4\ndraws: 2\n")
        protocol = load_protocol(str(path))
        assert isinstance(protocol, Echo) and protocol.version == 2 and protocol.clip_len == 4
        assert protocol.uses_cached_features() and evaluation_seeds(protocol, None) == [0, 1]
        assert protocol_identity(protocol)["settings"]["kind"] == "echo_test"
        assert protocol.chance({"top1": None, "top5": None}, [], [], 10) == {"top1": 10.0, "top5": 50.0}
        with pytest.raises(ConfigError, match="protocol.kind: Echo has kind 'echo_test', got 'knn'"):
            Echo(kind="knn")
    finally:
        del PROTOCOL_KINDS["echo_test"]
