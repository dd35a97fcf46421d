"""The code bases this suite's methods reproduce, each at the commit its values are read from.

One place for each: the methods' provenance records (``*/provenance.py``) cite files of these repositories
(:meth:`~benchmark.provenance.Repository.file`), so a commit is written once.
"""

from __future__ import annotations

from benchmark.provenance import Repository

TRMRL = Repository("luckeciano/transformers-metarl", "5528cdb4ef88ff4021ce8386f0b0a1402530d9df")
"""TrMRL's own code, branch ``trmrl-torch``: the README's command lines are the paper's configurations."""

OYSTER = Repository("katerakelly/oyster", "44e20fddf181d8ca3852bdf9b6927d6b8c6f48fc")
"""PEARL's own code (master; the configuration values are those of ee4fe88 too), for locomotion."""

PROMP = Repository("jonasrothfuss/ProMP", "93ae339e23dfc6e1133f9538f2c7cc0ccee89d19")
"""ProMP (master): MAML-TRPO on locomotion, which the TrMRL paper took its MuJoCo MAML baseline from."""

PROMP_FULL_CODE = Repository("jonasrothfuss/ProMP", "9e7fc5102e233ea1d9bb76be4d05b716729c08d8")
"""ProMP, branch ``full_code``: its RL² (``maml_zoo``), the paper's MuJoCo RL² baseline."""

GARAGE_PR_2287 = Repository("rlworkgroup/garage", "08492007d6e2d9ead9beb83a8a4247e52019ac7d")
"""garage PR #2287's head (also branch ``merge-mw-v2-examples``): the Meta-World launchers of MAML-TRPO,
RL2-PPO and PEARL (``metaworld_examples/``) the paper's Meta-World baselines ran."""

ALL = (TRMRL, OYSTER, PROMP, PROMP_FULL_CODE, GARAGE_PR_2287)
