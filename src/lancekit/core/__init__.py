"""Plumbing that every other part uses: file I/O (`io`), the engines' environments (`envs`),
where the checkout and the package live (`paths`), which code and which model made an output
(`provenance`), statistics drawn by bootstrap and permutation (`stats`), typed stage settings
(`settings`) and the embedded base model (`base_model`).

May import: the standard library, numpy. Nothing else of lancekit.
"""
