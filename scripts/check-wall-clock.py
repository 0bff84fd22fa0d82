#!/usr/bin/env python3
"""Fails when production code reads the wall clock anywhere but the clock port's system adapter.

Code that decides (token expiry, holds, cut-offs, reports) must read time from the injected
`Clock`, so that a test on a fixed clock passes on any date it is run. This scans the non-test
code of every crate (`domain/src`, `shared/src`, `functions/*/src`, `cli/src`; a file's code after its first
`#[cfg(test)]`, and `tests.rs` files, are tests) for the calls that read the date. `Instant::now`
(monotonic, for elapsed time only) is not a wall-clock read.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
READS = re.compile(
    r"\b(?:now_utc|now_local)\s*\(|SystemTime::now|UNIX_EPOCH\.elapsed|(?:Zoned|Timestamp|UtcDateTime|Utc|Local)::now\s*\("
)
# Each allowed place, with why it may read the wall clock.
ALLOWED = {
    # The clock port's system adapter: the one place production time comes from.
    "domain/src/clock.rs": "the system clock adapter",
    # The timestamp of a metric line says when it was printed; it decides nothing.
    "shared/src/telemetry.rs": "embedded-metric timestamps",
}


def production_code(path: pathlib.Path) -> str:
    text = path.read_text(encoding="utf-8")
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def main() -> int:
    for allowed in ALLOWED:
        if not (ROOT / allowed).is_file():
            print(f"check-wall-clock: {allowed} is allowed but does not exist (moved?)")
            return 1
    roots = [ROOT / "domain/src", ROOT / "shared/src", ROOT / "cli/src", *sorted((ROOT / "functions").glob("*/src"))]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.rs")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name.endswith("tests.rs") or relative in ALLOWED:
                continue
            for number, line in enumerate(production_code(path).splitlines(), 1):
                if READS.search(line) and not line.lstrip().startswith("//"):
                    found.append(f"{relative}:{number}: {line.strip()}")
    if found:
        print("wall-clock reads outside the clock port (read time from the injected Clock):")
        print("\n".join(found))
        return 1
    print(f"check-wall-clock: no wall-clock reads outside {', '.join(ALLOWED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
