"""The Prefect training flow, dvc.yaml and prefect.yaml describe the same pipeline."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dvc_graph() -> nx.DiGraph:
    """dvc.yaml's stages (foreach items expanded) with an edge upstream -> downstream.

    Only the project's dvc.yaml: the scale-out's locations/dvc.yaml is a pipeline of its own.
    """
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        stages = {
            s.addressing
            for s in repo.index.stages
            if Path(s.path) == ROOT / "dvc.yaml" and not s.addressing.endswith(".dvc")
        }
        graph = nx.DiGraph()
        graph.add_nodes_from(stages)
        for stage, upstream in repo.index.graph.edges:
            if stage.addressing in stages and upstream.addressing in stages:
                graph.add_edge(upstream.addressing, stage.addressing)
    return graph


@pytest.fixture(scope="module")
def flow_graph() -> nx.DiGraph:
    from flows.training import STEPS

    graph = nx.DiGraph()
    for step in STEPS:
        graph.add_node(step.name)
        graph.add_edges_from((before, step.name) for before in step.after)
    return graph


def test_flow_runs_exactly_the_dvc_stages(dvc_graph, flow_graph) -> None:
    assert sorted(flow_graph.nodes) == sorted(dvc_graph.nodes)


def test_flow_waits_for_every_dvc_dependency(dvc_graph, flow_graph) -> None:
    missing = [
        (before, stage)
        for before, stage in dvc_graph.edges
        if before not in nx.ancestors(flow_graph, stage)
    ]
    assert not missing, f"the flow may run these stages before their inputs exist: {missing}"


def test_flow_runs_independent_stages_concurrently(dvc_graph, flow_graph) -> None:
    needless = [
        (before, stage)
        for before, stage in flow_graph.edges
        if before not in nx.ancestors(dvc_graph, stage)
    ]
    assert not needless, f"the flow serialises stages dvc.yaml does not: {needless}"


def test_flow_order_is_a_topological_order_of_dvc(dvc_graph) -> None:
    from flows.training import STEPS

    position = {step.name: i for i, step in enumerate(STEPS)}
    assert all(position[a] < position[b] for a, b in dvc_graph.edges)


def test_prefect_yaml_and_serve_share_the_schedules() -> None:
    from flows import SCHEDULES

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployed = {
        d["name"]: (d["entrypoint"], d["schedules"][0]["cron"]) for d in spec["deployments"]
    }
    assert deployed == SCHEDULES
    for entrypoint, _ in SCHEDULES.values():
        assert (ROOT / entrypoint.split(":")[0]).exists()


def test_scale_out_outputs_are_tracked_by_their_own_dvc_pipeline() -> None:
    spec = yaml.safe_load((ROOT / "locations" / "dvc.yaml").read_text())["stages"]["scale_out"]
    assert spec["outs"] == ["artifacts/locations"]
    assert spec["cmd"] == "python -m flows.scale_out" and spec["wdir"] == ".."


def test_task_run_names_carry_the_item_and_the_location() -> None:
    from flows.training import task_run_name

    assert task_run_name("train@stochastic") == "train-stochastic"
    assert task_run_name("train@stochastic", "L1") == "train-stochastic-L1"
    assert task_run_name("report", "3010") == "report-3010"
