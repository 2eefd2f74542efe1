"""The pre-merge check: facts about each branch (facts), readiness rules (rules),
merge simulation and merge order (merging), and the check report.

Public entry points: `facts.run_check`, `facts.CheckReport`, `rules.evaluate`.
"""
