"""The data stages of one iteration as pure functions, tested on canned model text: a record's
shape, id and lineage (`records`), seed loading (`seeds`), prompt templates and answer parsing
(`prompts`), the judge's score parsing and health budget (`judge`), the review stages (`review`),
what every generating method shares (`generate`, `requests`), ROUGE-L (`rouge`) and cleaning
(`clean`). What is one method's own (LANCE's split and pair selection, Self-Instruct's task
prompts, SPIN's pairs) lives in lancekit.methods.

May import: lancekit.core.
"""
