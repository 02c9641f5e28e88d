"""The training engine on real decoded SynthMotion videos: resume after SIGKILL, worker
independence, TensorBoard scalars, config compatibility on resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TINY_VCOP
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ssl_video.config import ConfigError, load_pretrain_config
from ssl_video.engine import pretrain
from ssl_video.engine.checkpoint import load_file


def _cfg(root, out, *extra):
    return load_pretrain_config("vcop", [*TINY_VCOP, f"data.root={root}", f"train.out_dir={out}", *extra])


def _weights(out):
    return load_file(out / "encoder.pt")["state_dict"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _cli(*args):
    return [sys.executable, "-m", "ssl_video.cli", "pretrain", "vcop", *args]


def test_sigkill_and_resume_auto_gives_identical_weights(tiny_synth, tmp_path):
    args = [*TINY_VCOP, f"data.root={tiny_synth}", "train.max_steps=60", "train.checkpoint_every=5", "seed=3"]
    straight = tmp_path / "straight"
    subprocess.run(_cli(*args, f"train.out_dir={straight}"), check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli(*args, f"train.out_dir={killed}"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt = killed / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    step_at_kill = load_file(ckpt)["step"]
    assert 5 <= step_at_kill < 60, "the run must have been interrupted part-way"
    assert not (killed / "encoder.pt").exists()

    subprocess.run(
        _cli(*args, f"train.out_dir={killed}", "--resume", "auto"), check=True, capture_output=True
    )
    assert load_file(ckpt)["step"] == 60
    _assert_same_weights(_weights(straight), _weights(killed))


def test_results_do_not_depend_on_worker_count(tiny_synth, tmp_path):
    runs = {}
    for workers in (0, 2):
        out = tmp_path / f"w{workers}"
        pretrain(_cfg(tiny_synth, out, "train.max_steps=6", f"train.num_workers={workers}"))
        runs[workers] = _weights(out)
    _assert_same_weights(runs[0], runs[2])


def test_tensorboard_scalars_and_outputs(tiny_synth, tmp_path):
    out = tmp_path / "run"
    summary = pretrain(_cfg(tiny_synth, out, "train.max_steps=4", "data.val_videos=4"))
    assert summary["steps"] == 4 and 0.0 <= summary["val"]["acc"] <= 1.0
    for name in ("config.yaml", "data_report.json", "summary.json", "encoder.pt", "checkpoints/last.pt"):
        assert (out / name).exists(), name
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in (
        "train/loss",
        "train/acc",
        "train/lr",
        "train/clips_per_s",
        "train/data_wait_frac",
        "val/acc",
    ):
        assert tag in tags, tag
    losses = acc.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3, 4]
    assert all(0 <= e.value < 10 for e in losses)
    assert all(0 <= e.value <= 1 for e in acc.Scalars("train/data_wait_frac"))


def test_resume_refuses_different_settings(tiny_synth, tmp_path):
    out = tmp_path / "run"
    pretrain(_cfg(tiny_synth, out, "train.max_steps=2"))
    with pytest.raises(ConfigError, match="optim.lr"):
        pretrain(_cfg(tiny_synth, out, "train.max_steps=4", "optim.lr=0.5"), resume="auto")
    # changing only the length of the run is fine: it continues from step 2
    assert pretrain(_cfg(tiny_synth, out, "train.max_steps=4"), resume="auto")["steps"] == 4


def test_two_process_ddp_on_cpu(tiny_synth, tmp_path):
    """torchrun with 2 processes (Gloo): ranks shard the data, rank 0 writes the outputs."""
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "ssl_video.cli", "pretrain", "vcop", *TINY_VCOP, f"data.root={tiny_synth}",
        f"train.out_dir={out}", "train.max_steps=3", "train.threads=1",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = load_file(out / "checkpoints" / "last.pt")
    assert ckpt["step"] == 3
    assert (out / "encoder.pt").exists()
