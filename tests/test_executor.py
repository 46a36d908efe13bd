"""The exact pass runs its chunks on any concurrent.futures.Executor, dask's included, and gives
the very report the in-process pass gives."""

import dataclasses
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from geoconstruct import (
    Facts,
    construct_multi_hop,
    construct_single_hop,
    multi_hop_dimension,
    proven_dimension,
)


def partly_wrong():
    grid = {"layout": "block", "codebook": "grid"}  # the exact regime: a small d, a quick pass
    construction = construct_single_hop(2000, 4, proven_dimension(2000, 4, **grid), seed=3, **grid)
    permutations = np.array(construction.facts.permutations)
    permutations[:, :40] = np.roll(permutations[:, :40], 1, axis=1)  # 40 subjects' facts changed
    return dataclasses.replace(construction, facts=Facts(permutations))


BUDGET = 20 * 2**20  # small chunks: the pass is split into several tasks


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_an_executor_gives_the_in_process_report(pool):
    construction = partly_wrong()
    expected = construction.recall(memory_budget=BUDGET, max_failures=50)
    assert 0 < expected.n_correct < expected.n_queries
    seen = []
    with pool(2) as executor:
        report = construction.recall(
            memory_budget=BUDGET, max_failures=50, executor=executor, progress=seen.append
        )
    assert report == expected
    assert len(seen) > 1 and sum(seen) == expected.n_queries  # several tasks, every prompt


def test_a_dask_local_cluster_runs_the_exact_pass():
    from dask.distributed import Client, LocalCluster  # the test extra installs dask

    construction = partly_wrong()
    expected = construction.recall(memory_budget=BUDGET)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        report = construction.recall(memory_budget=BUDGET, executor=client.get_executor())
    assert report == expected


def test_chains_of_thought_refuse_an_executor():
    construction = construct_multi_hop(20, 2, 2, 2, multi_hop_dimension(20, 2, 2, 2))
    with ThreadPoolExecutor(1) as executor, pytest.raises(ValueError, match="executor"):
        construction.recall(executor=executor)
