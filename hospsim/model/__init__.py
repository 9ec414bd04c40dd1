"""Layer 2, model: one replication. Draws the patients from named random streams, turns the plan
into per-day levers, runs the discrete-event engine and measures the daily table and the KPIs.
Reads no files, prints nothing, keeps no global state. Imports only :mod:`hospsim.config`."""
