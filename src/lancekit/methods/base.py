"""What a method is. A `Method` says, in one place, everything the workflow, the scripts and the
report need of it:

- its name (the ``methods:`` config value and the results folder) and display name;
- its stages of one iteration, in order (the rules that make its files), among `STAGES`;
- how many iterations it runs, and which seed each iteration starts from;
- what `generate` reads and sends, and how it reads the answers back (`generation`);
- which judge prompt `review_new` uses and with which settings (`review_settings`);
- how `clean` treats its data (`clean_settings`);
- what `annotate` reads and how it makes the training sets (`annotate_reads`, `annotate`);
- which training stages it runs from which start model (`stages`, `sft_from`, `dpo_from`).

Settings go two ways: as plain JSON in the rule's params (Snakemake compares them: a change
reruns only the method whose settings changed) and back as one typed object in the script
(`GenerateSettings`, `AnnotateSettings`, built by lancekit.core.settings.load).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..data import prompts
from ..data.review import ReviewSettings
from ..generation.settings import Sampling
from . import runs

# Every stage of an iteration, in the order they run; a method has some of them.
STAGES = ("review_seed", "generate", "clean", "review_new", "annotate", "train_sft", "train_dpo")
# Where a method's SFT may start (`Method.sft_from`): M_{t-1}, M_0, or the base model itself.
SFT_STARTS = ("previous", "m0", "base")
DATA_STAGES = ("review_seed", "generate", "clean", "review_new", "annotate")
# What annotate may read, by name (the workflow knows the files: workflow/rules/common.smk).
ANNOTATE_FILES = ("reviewed_seed", "reviewed_new", "seed_stats", "new_stats", "cleaned", "raw", "seed",
                  "prev_new_dpo", "first_reviewed_seed")


@dataclass
class Generation:
    """What `generate` does for one shard: the first pass of requests (sampled with ``sampling``,
    None: the stage's own), how its answers become generation groups (`read`), and a second pass
    that answers the new instructions, if the method has one (`second`, `attach`)."""
    first: list[dict]
    what: str                           # what the first pass writes, for the log
    sampling: Sampling | None = None
    tally: dict = dataclasses.field(default_factory=dict)

    def read(self, completions: list[list[dict]], iteration: int, generator: str) -> list[dict]:
        raise NotImplementedError

    def second(self, groups: list[dict]) -> list[dict]:
        return []

    def attach(self, groups: list[dict], completions: list[list[dict]], iteration: int) -> None:
        return None


class Method:
    """One method; each module of this package defines its own as a subclass (see lance.py)."""

    name: str = ""
    display: str = ""
    stages: tuple[str, ...] = ()
    one_round: bool = False             # Self-Instruct: M_1 only
    evolves_seed: bool = False          # iteration t starts from iteration t-1's next seed, not Seed_0
    generate_reads: str = "seed"        # "seed" (Seed_0) or "reviewed_seed" (this iteration's review)
    generate_prompts: tuple[str, ...] = ()   # config `prompts` keys generate fills in (besides system)
    prompt_slots: dict[str, tuple[str, ...]] = {}  # the slots its own templates must hold, by prompts key
    review_prompt: str = "review"       # the config `prompts` key of review_new's judge prompt
    dpo_from: str = "sft"               # DPO starts from "sft" (this iteration's SFT model) or "previous" (M_{t-1})
    GenerateSettings: type = object
    AnnotateSettings: type = object

    def __repr__(self) -> str:
        return f"<method {self.name}>"

    # --- the iterations -----------------------------------------------------------------------

    def has(self, stage: str) -> bool:
        return stage in self.stages

    def iterations(self, iters: int) -> int:
        return min(1, iters) if self.one_round else iters

    @property
    def model_dir(self) -> str:
        """The folder of M_t under results/<method>/iter<t>/: its last training stage's output."""
        return "model" if self.stages[-1] == "train_dpo" else "sft_model"

    def sft_from(self, config: dict) -> str:
        """Where SFT of iteration t starts: "previous" (M_{t-1}), "m0" or "base" (the base model)."""
        return "previous"

    def sft_start(self, config: dict, iteration: int) -> str:
        """The run key (lancekit.methods.runs) of the model SFT of ``iteration`` starts from."""
        start = self.sft_from(config)
        if start not in SFT_STARTS:
            raise ValueError(f"{self.name}: SFT start {start!r}, expected one of {SFT_STARTS}")
        if start == "base":
            return runs.BASE
        return runs.M0 if start == "m0" else runs.run_key(self.name, iteration - 1)

    # --- the data stages ----------------------------------------------------------------------

    def generate_settings(self, config: dict):
        """This method's own generate settings (a `GenerateSettings`), from the whole config."""
        raise NotImplementedError

    def gather_settings(self, config: dict) -> dict:
        """What generate's gather step adds to its statistics (LANCE: the split threshold)."""
        return {}

    def generation(self, seeds: list[dict], pool: list[dict], p: prompts.Prompts, settings, seed: int,
                   max_tokens: int) -> Generation:
        raise NotImplementedError

    def clean_settings(self, config: dict) -> dict:
        """Config `clean` as this method's clean stage reads it (lancekit.data.clean.CleanRules)."""
        return dict(config["clean"])

    def review_settings(self, config: dict, stage: str) -> ReviewSettings:
        """Config `review` as a review stage reads it: not the health budget (annotate's), and
        rereview_seed only in review_seed."""
        skip = {"max_parse_failure_rate", "max_unscored_rate"} | ({"rereview_seed"} if stage == "review_new" else set())
        return ReviewSettings(**{k: v for k, v in config["review"].items() if k not in skip})

    def annotate_reads(self, iteration: int, config: dict) -> tuple[str, ...]:
        """The files annotate reads besides the previous training sets (names of ANNOTATE_FILES)."""
        raise NotImplementedError

    def annotate_settings(self, config: dict):
        raise NotImplementedError

    def annotate(self, files: dict, system: str, settings, iteration: int) -> tuple[dict, dict]:
        """The training sets {"new_sft", "new_dpo", "sft", "dpo", "next_seed"} and statistics, from
        the files read (by name: `annotate_reads`, plus "prev_sft" and "prev_dpo")."""
        raise NotImplementedError
