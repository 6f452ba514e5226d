"""AMC SQL coverage: the share of Amazon-style queries the local AMC compiles and runs.

Starts its own AMC simulator (every paid feature subscribed) and submits each query of
`amc_sql_corpus.sql` as an ad hoc execution over one week, over HTTP. A query marked
`accepted` (one real AMC runs) counts when it compiles and SUCCEEDS with rows; one marked
`refused: <problem>` counts when the simulator refuses it at create time with a message
naming that problem. Prints the figure per table family and the reason of every miss.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recomamp_pipelines.amc_sql.catalogue import PAID_FEATURES
from tests.fixtures.amc_simulator import AmcSimulator
from tests.simulator.helpers import Amc

CORPUS = Path(__file__).parent / "amc_sql_corpus.sql"
FROZEN_AT = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
WEEK = (datetime(2025, 2, 17), datetime(2025, 2, 24))
INSTANCE = "amcbench01"
PARAMETERS = {
    "inputParameters": [
        {"name": "campaigns", "dataType": {"type": "ARRAY", "elementDataType": "STRING"}}
    ]
}


@dataclass(frozen=True)
class CorpusQuery:
    name: str
    family: str
    expected_problem: str | None  # None: AMC accepts it
    sql: str


def corpus() -> list[CorpusQuery]:
    """The queries of amc_sql_corpus.sql, each after its `-- query: name | family | expect`."""
    found = []
    for chunk in CORPUS.read_text(encoding="utf-8").split("\n-- query: ")[1:]:
        head, _, sql = chunk.partition("\n")
        name, family, expect = (part.strip() for part in head.split("|"))
        problem = None if expect == "accepted" else expect.removeprefix("refused:").strip()
        found.append(CorpusQuery(name, family, problem, sql.strip()))
    return found


def judge(amc: Amc, query: CorpusQuery) -> str | None:
    """None when the simulator answers as AMC does, else the reason it does not."""
    body = {
        "workflow": {"sqlQuery": query.sql, **PARAMETERS},
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": WEEK[0].strftime("%Y-%m-%dT%H:%M:%S"),
        "timeWindowEnd": WEEK[1].strftime("%Y-%m-%dT%H:%M:%S"),
        "parameterValues": {"campaigns": []},
    }
    response = amc.post("/workflowExecutions", body)
    if query.expected_problem is not None:
        if response.status_code != 400:
            return f"accepted, but AMC refuses it ({query.expected_problem})"
        details = str(response.json().get("details", ""))
        if query.expected_problem not in details:
            return f"refused for another reason: {details}"
        return None
    if response.status_code != 200:
        return f"refused at create time: {response.json().get('details', response.text)}"
    execution = amc.wait(response.json()["workflowExecutionId"], timeout=300)
    if execution["status"] != "SUCCEEDED":
        return f"{execution['status']}: {execution.get('statusReason')}"
    if not amc.rows(execution["workflowExecutionId"]):
        return "succeeded with no rows (every row under the aggregation threshold)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only queries whose name contains this text")
    args = parser.parse_args()
    queries = [q for q in corpus() if not args.only or args.only in q.name]
    with tempfile.TemporaryDirectory(prefix="amc-sql-bench-") as work:
        sim = AmcSimulator(
            Path(work),
            instance_ids=(),
            clock=FROZEN_AT,
            freeze_clock=True,
            execution_seconds=0,
            settings={
                "instances": [{"instance_id": INSTANCE, "paid_features": sorted(PAID_FEATURES)}]
            },
        ).start()
        amc = Amc(sim, INSTANCE)
        misses: dict[str, str] = {}
        per_family: Counter[str] = Counter()
        good_per_family: Counter[str] = Counter()
        started = time.monotonic()
        try:
            for query in queries:
                reason = judge(amc, query)
                family = query.family.removeprefix("paid:")
                per_family[family] += 1
                if reason is None:
                    good_per_family[family] += 1
                else:
                    misses[query.name] = reason
        finally:
            amc.close()
            sim.stop()
        elapsed = time.monotonic() - started
    accepted = [q for q in queries if q.expected_problem is None]
    refused = [q for q in queries if q.expected_problem is not None]
    ok_accepted = sum(q.name not in misses for q in accepted)
    ok_refused = sum(q.name not in misses for q in refused)
    total_ok = ok_accepted + ok_refused
    print(f"queries: {len(queries)} ({len(accepted)} AMC runs, {len(refused)} AMC refuses)")
    print(f"answered as AMC does: {total_ok}/{len(queries)} = {total_ok / len(queries):.1%}")
    if accepted:
        print(f"  compile and succeed with rows: {ok_accepted}/{len(accepted)}")
    if refused:
        print(f"  refused naming the problem:    {ok_refused}/{len(refused)}")
    print(f"wall time {elapsed:.1f} s")
    print("\nper table family:")
    for family in sorted(per_family):
        print(f"  {family:<22} {good_per_family[family]}/{per_family[family]}")
    if misses:
        print("\nmisses:")
        for name, reason in misses.items():
            print(f"  {name}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
