"""Record what a bot sends, then check the recording against the pinned release, as a bot's CI would.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/check_recordings.py

Starts the mock in this process with a journal (``deriv-mock --record FILE`` does the same from the
command line), runs a few calls, and checks the journal with the same helper a test suite uses:
``assert_traffic_matches`` fails with a drift report when a recorded message no longer matches the
release the installed package was generated from. Works in a temporary directory; ends by itself.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from deriv_options import OptionsClient
from deriv_runtime.mock import MockServer
from deriv_runtime.testing import assert_traffic_matches


def test_recorded_fixtures_match_the_pinned_release() -> None:
    assert_traffic_matches("tests/recordings/*.jsonl", package="deriv_options")


async def record(path: Path) -> None:
    async with MockServer("deriv_options", tick_interval=0.05) as server:
        journal = server.record_to(path)
        async with OptionsClient.connect(server.url) as client:
            await client.ping()
            await client.time()
            async with client.subscribe_ticks("R_100") as ticks:
                await ticks.__anext__()
        if journal is not None:
            journal.close()


def main() -> None:
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as project:
        recordings = Path(project, "tests", "recordings")
        recordings.mkdir(parents=True)
        journal = recordings / "session.jsonl"
        asyncio.run(record(journal))
        requests = sum(1 for line in journal.read_text().splitlines() if '"kind":"request"' in line)
        os.chdir(project)
        try:
            test_recorded_fixtures_match_the_pinned_release()
        finally:
            os.chdir(home)
        print(f"{requests} recorded requests match the pinned release")


if __name__ == "__main__":
    main()
