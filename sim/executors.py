"""Where replications run: an injectable ``concurrent.futures.Executor``.

Local worker processes by default (``--jobs``, counted from the CPUs this process may use), or a
Dask cluster (``--dask tcp://scheduler:8786``, or ``--dask local:N`` to start a
``distributed.LocalCluster`` of N single-threaded worker processes on 127.0.0.1) through
``distributed``'s own ``Client.get_executor()``. Tasks carry everything they need (the scenario
with its data files' contents), so workers read nothing from a shared disk; results are
combined in task order, so where a replication ran never changes a byte of the output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

_LOCAL = re.compile(r"^local:(\d+)$")
#: The protocols ``distributed`` speaks that a scheduler address may use.
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: How long to wait for a Dask scheduler to answer before calling the run failed, seconds.
CONNECT_TIMEOUT_S = 20


class ExecutorError(RuntimeError):
    """The cluster cannot be reached or started (the run itself fails: exit status 4)."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset``
    narrow), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_dask(spec: str) -> str | None:
    """What is wrong with a ``--dask`` value (None: fine): ``local:N`` with N >= 1, or a
    scheduler address ``tcp://host:port`` (other ``distributed`` protocols too)."""
    m = _LOCAL.match(spec)
    if m is not None:
        return None if int(m.group(1)) >= 1 else f"--dask {spec}: local:N needs N >= 1"
    if spec.startswith("local"):
        return f"--dask {spec}: expected local:N (N worker processes), e.g. local:2"
    scheme, sep, rest = spec.partition("://")
    if not sep or not rest or scheme not in SCHEMES:
        return (
            f"--dask {spec}: expected a scheduler address such as tcp://10.0.0.5:8786 "
            f"({', '.join(s + '://' for s in SCHEMES)}) or local:N"
        )
    return None


@contextmanager
def executor_for(
    jobs: int, dask: str | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> Iterator[Executor | None]:
    """The executor a run submits its tasks to: None means run them here, one after the other
    (with progress in simulated minutes); otherwise a process pool of ``jobs`` workers or the
    Dask cluster ``dask`` names. Closed (and a local cluster stopped) on exit."""
    if dask is None:
        if jobs <= 1:
            yield None
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield pool
        return
    problem = check_dask(dask)
    if problem:
        raise ValueError(problem)
    from distributed import Client, LocalCluster  # imported only for a Dask run

    m = _LOCAL.match(dask)
    cluster = None
    try:
        if m is not None:
            cluster = LocalCluster(
                n_workers=int(m.group(1)),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = Client(cluster)
        else:
            client = Client(dask, timeout=connect_timeout_s)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise ExecutorError(f"--dask {dask}: cannot reach the scheduler: {exc}") from None
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
