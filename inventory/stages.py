"""One function per pipeline stage: config -> files written.

A stage has the same name here, on the command line (``inventory <stage>``), in
``dvc.yaml`` and as a Prefect task. Each takes the validated :class:`~inventory.config.Config`
(plus plain options) and returns a mapping of what it wrote, so it can be called from the
CLI, from DVC and from Prefect alike. Stages write only under ``artifacts/``, ``models/``,
``metrics/`` and ``reports/`` (the generator and importers write the data folder, which no
pipeline stage writes).
"""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path("artifacts")
MODELS = Path("models")
METRICS = Path("metrics")
REPORTS = Path("reports")
