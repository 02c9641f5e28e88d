"""One training loop for every pretext task.

Reads top to bottom: set up (threads, device, process group), data, task, encoder and heads,
optimizer and schedule, resume, then the step loop with logging, checkpoints and validation, then
the encoder export. The loop knows a task only through the PretextTask interface.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from .. import __version__
from ..config import ConfigError, PretrainConfig, to_dict
from ..datasets.clips import STREAM_VAL, EpochBatchSampler, PretextDataset, collate_samples
from ..encoders import create_encoder
from ..io_utils import atomic_write_json, atomic_write_text
from ..pretext import PretextTask, create_task
from .checkpoint import CHECKPOINT_FORMAT, atomic_torch_save, export_encoder, latest_checkpoint, load_file
from .data import prepare_pretraining_videos
from .distributed import dist_env_from_environ, init_distributed, resolve_device, shutdown_distributed
from .optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

# Keys that may change between a run and its resumption without changing the result.
RESUMABLE_CHANGES = {
    "train.epochs",
    "train.max_steps",
    "train.out_dir",
    "train.num_workers",
    "train.progress",
    "train.log_every",
    "train.checkpoint_every",
}


class TrainingStopped(RuntimeError):
    """``fit()`` wrote a checkpoint and stopped before the end because a stop was requested."""

    def __init__(self, step: int, path: Path | None):
        super().__init__(f"training stopped on request at step {step} (checkpoint: {path})")
        self.step = step
        self.path = path


class _CheckpointRequest:
    """A process-wide request, honoured by the running loop at its next step boundary."""

    checkpoint = False
    stop = False


def request_checkpoint(stop: bool = False) -> None:
    """Ask the running training loop to write a checkpoint after its current step.

    With ``stop=True``, ``fit()`` then raises TrainingStopped. Safe to call from a signal handler
    (e.g. a scheduler's preemption or time-limit signal) or from another thread; a request made
    before the loop starts is honoured after its first step.
    """
    _CheckpointRequest.stop = _CheckpointRequest.stop or stop
    _CheckpointRequest.checkpoint = True


def clear_checkpoint_request() -> None:
    _CheckpointRequest.checkpoint = _CheckpointRequest.stop = False


class PretrainModel(nn.Module):
    """Encoder + task heads as one module (what DDP wraps); forward returns the task's output."""

    def __init__(self, encoder: nn.Module, heads: nn.Module, task: PretextTask):
        super().__init__()
        self.encoder = encoder
        self.heads = heads
        self.task = task

    def forward(self, batch: dict):
        return self.task.loss(self.encoder, self.heads, batch)


def to_device(batch: dict, device: torch.device) -> dict:
    """Move tensors to ``device``; uint8 tensors are pixels and become float in [0, 1]."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if value.dtype == torch.uint8:
                value = value.float().div_(255.0)
        out[key] = value
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(
            _flatten(v, key + ".") if isinstance(v, dict) and not key.startswith("task.params") else {key: v}
        )
    return out


def check_resume_compatible(saved: dict, current: dict) -> None:
    """Refuse to resume a checkpoint whose settings differ in anything that changes the result."""
    a, b = _flatten(saved), _flatten(current)
    differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES)
    if differing:
        details = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in differing[:6])
        raise ConfigError(f"cannot resume: the checkpoint was made with different settings ({details})")


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def _loader(dataset, sampler, num_workers: int, pin: bool) -> DataLoader:
    # A private generator keeps the DataLoader from drawing on the global torch RNG, whose state
    # (dropout) must continue exactly across a resume.
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_samples,
        pin_memory=pin,
        worker_init_fn=_worker_init,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )


class Trainer:
    """Holds a run's state; ``fit()`` trains to the end, resuming when asked."""

    def __init__(self, cfg: PretrainConfig, resume: str | None = None):
        self.cfg = cfg
        self.resume = resume
        self.env = dist_env_from_environ()
        self.out_dir = Path(cfg.train.out_dir)

    # ----------------------------------------------------------------------------------- setup
    def setup(self) -> None:
        cfg, env = self.cfg, self.env
        torch.set_num_threads(cfg.train.threads)
        self.device = resolve_device(cfg.train.device, env)
        init_distributed(env, self.device)
        self.task = create_task(cfg.task.name, cfg.task.params)
        self.videos = prepare_pretraining_videos(cfg.data, self.task.min_frames(), cfg.seed)
        self.dataset = PretextDataset(self.videos.train, self.task, cfg.data.backend, cfg.seed)
        self.val_dataset = (
            PretextDataset(self.videos.val, self.task, cfg.data.backend, cfg.seed, stream=STREAM_VAL)
            if self.videos.val
            else None
        )
        self.steps_per_epoch = EpochBatchSampler.batches_per_epoch(
            len(self.dataset), cfg.train.batch_size, env.world_size
        )
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"train.batch_size={cfg.train.batch_size} is larger than the "
                f"{len(self.dataset)} usable videos "
                f"per process; lower it"
            )
        self.total_steps = cfg.train.max_steps or cfg.train.epochs * self.steps_per_epoch

        torch.manual_seed(cfg.seed)
        encoder = create_encoder(cfg.encoder.name, **cfg.encoder.kwargs)
        heads = self.task.build_heads(encoder.dim)
        self.model = PretrainModel(encoder, heads, self.task).to(self.device)
        self.optimizer = build_optimizer(self.model.parameters(), cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, cfg.optim)
        self.use_amp = cfg.train.amp and self.device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.step = 0
        self._maybe_resume()
        self.ddp_model = (
            DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            if env.enabled
            else self.model
        )
        if env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out_dir / "config.yaml", _yaml(to_dict(cfg)))
            atomic_write_json(self.out_dir / "data_report.json", self.videos.report())

    def _maybe_resume(self) -> None:
        if not self.resume:
            return
        path = latest_checkpoint(self.out_dir) if self.resume == "auto" else Path(self.resume)
        if path is None:
            log.info("--resume auto: no checkpoint in %s, starting fresh", self.out_dir)
            return
        ckpt = load_file(path)
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not an ssl-video training checkpoint")
        check_resume_compatible(ckpt["config"], to_dict(self.cfg))
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
        self.step = int(ckpt["step"])
        log.info("resumed from %s at step %d", path, self.step)

    # ------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path | None:
        if not self.env.is_main:
            return None
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return atomic_torch_save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": __version__,
                "step": self.step,
                "epoch": self.step // self.steps_per_epoch,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rng,
                "config": to_dict(self.cfg),
                "data_fingerprint": self.videos.fingerprint,
            },
            self.out_dir / "checkpoints" / "last.pt",
        )

    # ------------------------------------------------------------------------------------ steps
    def train_step(self, batch: dict) -> dict[str, float]:
        self.ddp_model.train()
        batch = to_device(batch, self.device)
        autocast = torch.autocast("cuda", dtype=self.amp_dtype) if self.use_amp else contextlib.nullcontext()
        with autocast:
            out = self.ddp_model(batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out.loss).backward()
        if self.cfg.train.clip_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {"loss": out.loss.detach(), **{k: v.detach() for k, v in out.metrics.items()}}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Pretext loss/accuracy on the held-out videos, one fixed sample per video."""
        self.model.eval()
        keys = [(0, i) for i in range(len(self.val_dataset))]
        batches = [
            keys[i : i + self.cfg.train.batch_size] for i in range(0, len(keys), self.cfg.train.batch_size)
        ]
        totals: dict[str, float] = {}
        count = 0
        for batch in _loader(self.val_dataset, batches, self.cfg.train.num_workers, False):
            batch.pop("failed")
            n = next(iter(batch.values())).shape[0]
            out = self.model(to_device(batch, self.device))
            for k, v in {"loss": out.loss, **out.metrics}.items():
                totals[k] = totals.get(k, 0.0) + float(v) * n
            count += n
        return {k: v / count for k, v in totals.items()}

    # ------------------------------------------------------------------------------------- loop
    def fit(self) -> dict:
        self.setup()
        cfg, env = self.cfg, self.env
        writer = None
        if env.is_main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.step)
            writer.add_scalar("data/skipped_videos", len(self.videos.skipped), self.step)
        progress = None
        if env.is_main and cfg.train.progress:
            from tqdm import tqdm

            progress = tqdm(
                total=self.total_steps, initial=self.step, desc=f"pretrain {cfg.task.name}", unit="step"
            )
        clips_per_step = cfg.train.batch_size * env.world_size * self.task.clips_per_sample()
        window: dict[str, float] = {}
        window_steps, wait_time, busy_time, failed = 0, 0.0, 0.0, 0
        val_metrics: dict[str, float] = {}
        last_metrics: dict[str, float] = {}
        start_time = time.time()
        while self.step < self.total_steps:
            epoch, skip = divmod(self.step, self.steps_per_epoch)
            self.task.on_epoch_start(epoch)
            sampler = EpochBatchSampler(
                len(self.dataset), cfg.train.batch_size, cfg.seed, epoch, env.rank, env.world_size, skip
            )
            tick = time.perf_counter()
            for batch in _loader(self.dataset, sampler, cfg.train.num_workers, self.device.type == "cuda"):
                got = time.perf_counter()
                failed += len(batch.pop("failed"))
                metrics = self.train_step(batch)
                self.step += 1
                done = time.perf_counter()
                wait_time += got - tick
                busy_time += done - tick
                tick = done
                for k, v in metrics.items():
                    window[k] = window.get(k, 0.0) + float(v)
                window_steps += 1
                if self.step % cfg.train.log_every == 0 or self.step == self.total_steps:
                    last_metrics = self._log(
                        writer, window, window_steps, wait_time, busy_time, clips_per_step
                    )
                    if progress is not None:
                        progress.set_postfix(
                            {k: f"{v:.3f}" for k, v in last_metrics.items() if k in ("loss", "acc")}
                        )
                    window, window_steps, wait_time, busy_time = {}, 0, 0.0, 0.0
                if progress is not None:
                    progress.update(1)
                if self.step % cfg.train.checkpoint_every == 0 and self.step < self.total_steps:
                    self.save_checkpoint()
                if self.step >= self.total_steps:
                    break
                if self._checkpoint_requested():
                    self._honour_checkpoint_request(progress, writer)
            epoch_done = self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps
            if self.val_dataset is not None and env.is_main and epoch_done:
                val_metrics = self.validate()
                for k, v in val_metrics.items():
                    writer.add_scalar(f"val/{k}", v, self.step)
                log.info("step %d validation: %s", self.step, val_metrics)
        if progress is not None:
            progress.close()
        if failed and writer is not None:
            writer.add_scalar("data/failed_decodes", failed, self.step)
        clear_checkpoint_request()  # a request that came after the last step: the final checkpoint serves it
        summary = self._finish(last_metrics, val_metrics, failed, time.time() - start_time)
        if writer is not None:
            writer.close()
        if env.enabled:
            dist.barrier()
        shutdown_distributed()
        return summary

    def _checkpoint_requested(self) -> bool:
        """Whether request_checkpoint() was called (on any rank: all ranks must stop at the same step)."""
        if not self.env.enabled:
            return _CheckpointRequest.checkpoint
        flags = torch.tensor(
            [int(_CheckpointRequest.checkpoint), int(_CheckpointRequest.stop)],
            dtype=torch.int32,
            device=self.device,
        )
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        _CheckpointRequest.stop = bool(flags[1])
        return bool(flags[0])

    def _honour_checkpoint_request(self, progress, writer) -> None:
        """Write the requested checkpoint; when a stop was requested, end the run with TrainingStopped."""
        stop = _CheckpointRequest.stop
        clear_checkpoint_request()
        path = None
        if self.step % self.cfg.train.checkpoint_every == 0:  # just written by the periodic save
            path = latest_checkpoint(self.out_dir) if self.env.is_main else None
        else:
            path = self.save_checkpoint()
        log.warning("step %d: checkpoint written on request (%s)", self.step, path)
        if not stop:
            return
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.close()
        if self.env.enabled:
            dist.barrier()
        shutdown_distributed()
        raise TrainingStopped(self.step, path)

    def _log(self, writer, window, steps, wait_time, busy_time, clips_per_step) -> dict[str, float]:
        metrics = {k: v / steps for k, v in window.items()}
        if self.env.enabled:
            values = [metrics[k] for k in sorted(metrics)]
            packed = torch.tensor(values, dtype=torch.float64, device=self.device)  # NCCL: on the GPU
            dist.all_reduce(packed)
            metrics = {k: float(v) / self.env.world_size for k, v in zip(sorted(metrics), packed)}
        metrics["lr"] = self.optimizer.param_groups[0]["lr"]
        metrics["clips_per_s"] = clips_per_step * steps / max(busy_time, 1e-9)
        metrics["data_wait_frac"] = wait_time / max(busy_time, 1e-9)
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"train/{k}", v, self.step)
        return metrics

    def _finish(self, last_metrics: dict, val_metrics: dict, failed: int, seconds: float) -> dict:
        self.save_checkpoint()
        summary = {
            "task": self.cfg.task.name,
            "encoder": self.cfg.encoder.name,
            "steps": self.step,
            "epochs": self.step / self.steps_per_epoch,
            "seconds_this_session": round(seconds, 2),
            "threads": self.cfg.train.threads,
            "chance_accuracy": self.task.chance_accuracy,
            "train": last_metrics,
            "val": val_metrics,
            "failed_decodes": failed,
            "data": {k: v for k, v in self.videos.report().items() if not isinstance(v, list)},
        }
        if self.env.is_main:
            export_encoder(
                self.out_dir / "encoder.pt",
                self.model.encoder,
                self.cfg.encoder.name,
                self.cfg.encoder.kwargs,
                {
                    "task": self.cfg.task.name,
                    "step": self.step,
                    "config": to_dict(self.cfg),
                    "data_fingerprint": self.videos.fingerprint,
                    "version": __version__,
                },
            )
            atomic_write_json(self.out_dir / "summary.json", summary)
        return summary


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def pretrain(cfg: PretrainConfig, resume: str | None = None) -> dict:
    """Run (or resume) a pretraining job; returns the run summary (also in ``out_dir/summary.json``)."""
    return Trainer(cfg, resume).fit()
