"""4. The runs table: one item per upload. Its schema (:mod:`.record`), its data access
(:mod:`.table`), and what the end-of-run paths gather about a run (:mod:`.facts`).
"""
