"""ICD-10-CM search speed: the first call builds the index, later calls should answer in
well under 0.3 s (the evaluation page's code search). Prints medians; not a test.

    .venv/bin/python bench/icd10_search.py
"""

import statistics
import time

from ketapath.evaluations.catalogue import icd10_search

TERMS = ("migraine", "rheumatoid arthritis multiple sites", "M05", "G90.5", "low back pain")
RUNS = 20


def main() -> None:
    started = time.perf_counter()
    icd10_search("fibromyalgia")
    first_ms = (time.perf_counter() - started) * 1000
    print(f"first call (builds the index): {first_ms:.1f} ms")
    for term in TERMS:
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            found = icd10_search(term)
            timings.append((time.perf_counter() - started) * 1000)
        median = statistics.median(timings)
        ratio = median / first_ms
        print(f"{term!r:42} {len(found):3} codes  median {median:6.1f} ms  ({ratio:.3f}× first)")


if __name__ == "__main__":
    main()
