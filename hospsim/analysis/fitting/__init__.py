"""Pieces of ``hospsim fit``: LOS distributions (:mod:`.los`) and emergency demand
(:mod:`.demand`); :mod:`hospsim.analysis.fit` puts them together into a config."""
