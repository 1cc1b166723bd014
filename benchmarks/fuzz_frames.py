"""The frame fuzz, long: mutated recorded frames through each venue connector's socket
handler (the rigs of ``tests/frame_rigs.py``, the mutations of
``tests/frame_mutations.py``), for ``SECONDS`` per venue. Prints per venue how many
frames it fed, how many the connector counted as bad, how many exceptions escaped the
handler (must be 0) and whether the feed was still up after (a valid book and the
events of valid frames).

    python benchmarks/fuzz_frames.py [seconds per venue] [seed]

Exit 1 when an exception escaped or a feed did not stay up.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.frame_rigs import RIGS, fuzz

FRAMES_CAP = 10**9


async def run(seconds: float, seed: int) -> bool:
    ok = True
    total = 0
    print(f"{'venue':<10}{'fed':>10}{'bad':>10}{'escaped':>9}{'frames/s':>10}  feed up after")
    for venue, make in RIGS.items():
        rig = make()
        try:
            up_before = await rig.canary()
            result = await fuzz(rig, seed, frames=FRAMES_CAP, seconds=seconds)
            up_after = await rig.canary()
        finally:
            await rig.close()
        total += result.fed
        rate = result.fed / result.seconds if result.seconds else 0.0
        print(
            f"{venue:<10}{result.fed:>10}{result.bad:>10}{len(result.escaped):>9}"
            f"{rate:>10.0f}  {up_before and up_after}"
        )
        for line in result.escaped[:5]:
            print(f"    escaped: {line}")
        ok = ok and not result.escaped and up_before and up_after
    print(f"{total} frames fed in all; {'ok' if ok else 'FAILED'}")
    return ok


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    logging.basicConfig(level=logging.CRITICAL)  # the bad frames' lines are not the point
    return 0 if asyncio.run(run(seconds, seed)) else 1


if __name__ == "__main__":
    sys.exit(main())
