import os

# One thread per test process: the CI machine has 2 cores and tests must not oversubscribe them.
os.environ.setdefault("OMP_NUM_THREADS", "1")
