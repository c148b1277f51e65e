"""Weekly replenishment planning with deep RL, MILP baselines and drift monitoring.

See README.md for the tour; :mod:`inventory.stages` holds one function per pipeline stage.
"""
