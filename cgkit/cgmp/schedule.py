"""Resolution schedule of CGMP training: warm-up at full resolution, then one atom less
every ``epochs_per_step`` epochs down to ``min_resolution``."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ResolutionSchedule:
    """Target resolution ``M`` per epoch.

    Attributes
    ----------
    n_atoms : int
        Full resolution ``N`` (the number of candidate atoms).
    warmup : int
        Epochs held at ``M = N``.
    epochs_per_step : int
        Epochs at each lower resolution ``N - 1, ..., min_resolution``.
    min_resolution : int
        Last resolution (2 in the paper).
    """

    n_atoms: int
    warmup: int
    epochs_per_step: int
    min_resolution: int = 2

    def __post_init__(self):
        if self.min_resolution < 1 or self.min_resolution > self.n_atoms:
            raise ValueError(
                f"min_resolution must be in 1..n_atoms={self.n_atoms}, got {self.min_resolution}"
            )
        if self.warmup < 1 or self.epochs_per_step < 1:
            raise ValueError(
                f"warmup and epochs_per_step must be >= 1, got {self.warmup}, "
                f"{self.epochs_per_step}"
            )

    @property
    def n_epochs(self) -> int:
        """Total number of epochs."""
        return self.warmup + (self.n_atoms - self.min_resolution) * self.epochs_per_step

    def resolutions(self) -> list[int]:
        """Resolutions visited, from ``N`` down to ``min_resolution``."""
        return list(range(self.n_atoms, self.min_resolution - 1, -1))

    def resolution(self, epoch: int) -> int:
        """Target ``M`` at 0-based ``epoch``."""
        if not 0 <= epoch < self.n_epochs:
            raise ValueError(f"epoch {epoch} outside 0..{self.n_epochs - 1}")
        if epoch < self.warmup:
            return self.n_atoms
        return self.n_atoms - 1 - (epoch - self.warmup) // self.epochs_per_step

    def is_record_epoch(self, epoch: int) -> bool:
        """True at the last epoch of each resolution (before a drop, and the final epoch)."""
        return epoch == self.n_epochs - 1 or self.resolution(epoch + 1) != self.resolution(epoch)

    def to_dict(self) -> dict:
        return asdict(self)
