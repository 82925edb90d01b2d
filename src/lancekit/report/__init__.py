"""The report: what the report rule reads (`load`), the evaluation as one tidy frame and its
tables (`scores`), the paper's numbers beside ours (`paper`), the pipeline's own tables
(`stages`), the figures (`plots`), how numbers and names are written (`words`, `names`,
`markdown`), and the page, one function per section (`page`).

May import: lancekit.methods, lancekit.evaluation (its registry), lancekit.core.
"""
