"""Where the pipeline's files live: one frozen object, built by the stage layer.

:class:`Layout` names every file and folder the stages read or write, relative to one
root folder (the project, or one location's folder in the scale-out). The stages of
:mod:`inventory.stages` build it and pass paths, or what they loaded from them, down to
the domain modules, which hold no path conventions of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inventory.config import Config
from inventory.identifiers import check_id
from inventory.io import confined

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """The project's folders and files under ``root``.

    Attributes:
        root: The project folder (``.``: the working directory) or a location's folder.
        data_dir: The input data folder (read only).
    """

    root: Path
    data_dir: Path

    @classmethod
    def from_config(cls, config: Config, root: str | Path = ".") -> Layout:
        """The layout under ``root``; a relative ``data.dir`` is taken from ``root``."""
        root = Path(root)
        data_dir = Path(config.data.dir)
        return cls(root, data_dir if data_dir.is_absolute() else root / data_dir)

    @property
    def artifacts(self) -> Path:
        """Intermediate outputs (forecast, demand model, plans, evaluation tables)."""
        return self.root / "artifacts"

    @property
    def models(self) -> Path:
        """Trained PPO models, one folder per mode (and location)."""
        return self.root / "models"

    @property
    def metrics(self) -> Path:
        """Small JSON metrics and CSV curves (``dvc metrics``, ``dvc plots``)."""
        return self.root / "metrics"

    @property
    def reports(self) -> Path:
        """Human-facing outputs (validation, drift, recommendation, summary)."""
        return self.root / "reports"

    @property
    def validation_report(self) -> Path:
        """The validate stage's report."""
        return self.reports / "validation.json"

    @property
    def forecast(self) -> Path:
        """The forecast stage's forecast (what every planning stage plans on)."""
        return self.artifacts / "forecast.csv"

    @property
    def forecast_backtest(self) -> Path:
        """Out-of-sample backtest forecasts (the drift reference)."""
        return self.artifacts / "forecast_backtest.csv"

    @property
    def demand_model(self) -> Path:
        """The fitted demand model of every location (forecast stage)."""
        return self.artifacts / "demand_model.json"

    @property
    def tuning_cache(self) -> Path:
        """Tuned base-stock and (s, S) levels, reused under the same key."""
        return self.artifacts / "cache" / "tuned"

    @property
    def solved_plans(self) -> Path:
        """The solve stage's plans (``plan_<mode>.csv``); their metrics are in ``metrics``."""
        return self.artifacts / "milp"

    @property
    def evaluation(self) -> Path:
        """The evaluate stage's tables, one folder per mode."""
        return self.artifacts / "evaluation"

    @property
    def figures(self) -> Path:
        """The evaluate stage's figures."""
        return self.reports / "figures"

    @property
    def recommendation(self) -> Path:
        """The recommend stage's projection and plan."""
        return self.artifacts / "recommendation"

    @property
    def locations(self) -> Path:
        """The scale-out's folders, one per location."""
        return self.artifacts / "locations"

    def model_dir(self, mode: str, location: str | None = None) -> Path:
        """``models/ppo_<mode>`` (default location) or ``models/ppo_<mode>_<location>``.

        Raises:
            ValueError: the name would lead outside ``models/`` (a path-like mode or location).
        """
        return confined(self.models, f"ppo_{mode}_{location}" if location else f"ppo_{mode}")

    def trained_model(self, mode: str, location: str, default_location: str) -> Path:
        """The model folder of ``mode`` for ``location``: the first that holds a model of
        ``models/ppo_<mode>`` (default location only) and ``models/ppo_<mode>_<location>``,
        else the first of them (where training would write it). A folder holds a model
        when it holds its weights, ``policy.pt``."""
        candidates = [self.model_dir(mode, location)]
        if location == default_location:
            candidates.insert(0, self.model_dir(mode))
        return next((c for c in candidates if (c / "policy.pt").exists()), candidates[0])

    def location_root(self, location: str) -> Path:
        """The folder of one location in the scale-out."""
        return confined(self.locations, check_id(location, "location"))

    def for_location(self, location: str) -> Layout:
        """The layout of one location's folder (same data folder)."""
        return Layout(self.location_root(location), self.data_dir)
