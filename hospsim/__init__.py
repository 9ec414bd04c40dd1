"""hospsim: does a plan to cut acute hospital beds still hold when intermediate care grows too
slowly or arrives too late? A discrete-event simulation of admissions, length of stay, delayed
transfers of care and community alternatives."""

__version__ = "0.1.0"
