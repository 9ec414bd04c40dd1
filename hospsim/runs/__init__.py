"""Layer 4, runs: replications, experiments and sweeps, the executor that runs them, the results
folders they write (atomically) and the check that re-runs a folder bit for bit."""
