"""Prints the figures of a schemathesis run from its reports (scripts/fuzz.sh).

Usage: summary.py REPORT_DIR ELAPSED_SECONDS
"""

import json
import pathlib
import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main() -> None:
    report_dir = pathlib.Path(sys.argv[1])
    elapsed = sys.argv[2]
    operations = failed = errored = skipped = 0
    for junit in report_dir.glob("*.xml"):
        for case in ET.parse(junit).getroot().iter("testcase"):
            operations += 1
            if case.find("failure") is not None:
                failed += 1
            elif case.find("error") is not None:
                errored += 1
            elif case.find("skipped") is not None:
                skipped += 1
    # Every request the engine sent is one interaction in the event stream.
    requests = 0
    statuses: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    for events in report_dir.glob("*.ndjson"):
        with events.open() as fh:
            for line in fh:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                phases[finished.get("phase", "?")] += 1
                for interaction in (finished.get("recorder") or {}).get("interactions", {}).values():
                    response = interaction.get("response")
                    requests += 1
                    statuses[f"{response['status_code'] // 100}xx" if response else "no response"] += 1
    print(
        f"fuzz figures: {operations} operations ({failed} failed, {errored} errored, {skipped} skipped), "
        f"{requests} requests, responses {dict(sorted(statuses.items()))}, "
        f"scenarios per phase {dict(sorted(phases.items()))}, {elapsed} s"
    )


if __name__ == "__main__":
    main()
