"""The paper's claims as data: Holm's correction, gains since the start, power, labels, and the generated
side-by-side document and README block (they must match the committed tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import claims, stats
from benchmark.results.schema import COLUMNS, read_table, validate

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "results" / "reference"


def reference_table_names() -> list[str]:
    """The committed tables `make claims` reads: the Makefile's ``REFERENCE_TABLES``, the one list of them."""
    makefile = (REPO / "Makefile").read_text().splitlines()
    line = next(row for row in makefile if row.startswith("REFERENCE_TABLES"))
    names = [Path(p).name for p in line.split(":=", 1)[1].split()]
    assert names and all((REFERENCE / n).is_file() for n in names), names
    return names


def test_holm_on_a_family_with_known_adjusted_values():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max
    np.testing.assert_allclose(stats.holm(p)[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(stats.holm(p)[4])
    assert stats.holm(np.array([0.6, 0.9])).tolist() == [1.0, 1.0]  # capped at 1


def table_with_known_answers() -> pd.DataFrame:
    """Point-nav, one trial of one episode per evaluation; a: 0 -> 10+seed, b: 0 -> 4, seeds 0..3."""
    rows = []
    for method, final in (("a", lambda s: 10.0 + s), ("b", lambda s: 4.0)):
        for seed in range(4):
            for env_steps, value in ((0, 0.0), (100, final(seed))):
                rows.append(
                    (
                        f"{method}-{seed}",
                        method,
                        "point-nav",
                        "meta_test",
                        seed,
                        env_steps,
                        0,
                        0,
                        None,
                        1,
                        0.5,
                    )
                    + ("return", value)
                )
    return validate(pd.DataFrame(rows, columns=list(COLUMNS)))


def claim(**fields) -> pd.DataFrame:
    base = {
        "id": "x",
        "family": "f",
        "claim": "a claim",
        "suite": "point-nav",
        "split": "meta_test",
        "statistic": "final",
        "method": "a",
        "versus": "b",
        "direction": "greater",
        "paper_scale": "—",
    }
    return pd.DataFrame([{**base, **fields}])


def test_gains_since_the_start_and_paired_differences_have_their_known_values():
    table = table_with_known_answers()
    gain = claims.evaluate(table, claim(statistic="gain", versus="untrained")).iloc[0]
    assert gain["n"] == 4 and gain["mean"] == pytest.approx(11.5) and gain["env_steps"] == 100
    versus = claims.evaluate(table, claim()).iloc[0]
    assert versus["mean"] == pytest.approx(7.5) and versus["label"] == "confirmed"
    level = claims.evaluate(table, claim(versus="20", direction="less")).iloc[0]
    assert level["mean"] == pytest.approx(-8.5) and level["label"] == "confirmed"
    missing = claims.evaluate(table, claim(method="nobody")).iloc[0]
    assert missing["n"] == 0 and missing["label"] == "not testable here"


def test_a_claim_about_one_method_reads_its_own_final_point_and_a_comparison_the_point_both_reached():
    """A profile may budget methods differently (``metaworld``: RL² 5M, TrMRL 1M env steps): a's runs go on
    to 200 env steps (score 20 + seed there), b's stop at 100; a's gain is read at 200, a - b at 100."""
    table = table_with_known_answers()
    longer = table[(table["method"] == "a") & (table["env_steps"] == 100)].copy()
    longer["env_steps"] = 200
    longer["value"] = 20.0 + longer["seed"].astype(float)
    table = validate(pd.concat([table, longer], ignore_index=True))
    gain = claims.evaluate(table, claim(statistic="gain", versus="untrained")).iloc[0]
    assert gain["env_steps"] == 200 and gain["mean"] == pytest.approx(21.5)
    level = claims.evaluate(table, claim(versus="25", direction="less")).iloc[0]
    assert level["env_steps"] == 200 and level["mean"] == pytest.approx(-3.5)
    versus = claims.evaluate(table, claim()).iloc[0]
    assert versus["env_steps"] == 100 and versus["mean"] == pytest.approx(7.5)
    first = claims.evaluate(table, claim(statistic="first_episode")).iloc[0]
    assert first["env_steps"] == 100 and first["mean"] == pytest.approx(7.5)


@pytest.mark.parametrize(
    ("direction", "mean", "p", "n", "expected"),
    [
        ("greater", 3.0, 0.01, 3, "confirmed"),
        ("greater", -3.0, 0.01, 3, "contradicted"),
        ("less", -3.0, 0.2, 3, "consistent"),
        ("greater", -3.0, 0.2, 3, "not resolved"),
        ("greater", 3.0, float("nan"), 1, "not testable here"),
    ],
)
def test_labels_read_the_adjusted_test(direction, mean, p, n, expected):
    assert claims.label(direction, mean, p, n) == expected


def test_the_seed_count_for_80_percent_power_reaches_it_in_simulation():
    effect, spread = 0.5, 1.0
    n = claims.seeds_for_power(effect, spread)
    assert n == 34
    rng = np.random.default_rng(0)
    samples = rng.normal(effect, spread, size=(4000, n))
    t = samples.mean(axis=1) / (samples.std(axis=1, ddof=1) / np.sqrt(n))
    from scipy import stats

    rejected = np.mean(np.abs(t) > stats.t.ppf(0.975, n - 1))
    assert 0.75 <= rejected <= 0.85
    assert claims.paired_t_power(effect, spread, n - 1) < 0.8 <= claims.paired_t_power(effect, spread, n)
    assert claims.seeds_for_power(0.0, 1.0) is None


def reference_evaluations() -> dict[str, pd.DataFrame]:
    return {name: claims.evaluate(read_table(REFERENCE / name)) for name in reference_table_names()}


def test_the_committed_side_by_side_document_and_readme_block_are_generated_from_the_tables():
    """`make claims` wrote them; a number edited by hand or a table regenerated without them fails here."""
    evaluations = reference_evaluations()
    assert (REFERENCE / "paper_side_by_side.md").read_text() == claims.side_by_side_document(evaluations)
    readme = (REPO / "README.md").read_text()
    shown = [name for name in evaluations if claims.has_readme_block(readme, name)]
    assert "long.parquet" in shown
    for name in shown:
        block = claims.readme_block(name, evaluations[name])
        assert block in readme
        assert claims.replace_readme_block(readme, name, block) == readme
    with pytest.raises(ValueError, match="no generated claims block for quick.parquet"):
        claims.replace_readme_block(readme, "quick.parquet", "")


def test_every_claim_is_well_formed():
    table = claims.load_claims()
    assert set(table["statistic"]) <= set(claims.STATISTICS)
    assert table["id"].is_unique and (table["family"] != "").all()


def test_power_runs_on_every_reference_table():
    for name in reference_table_names():
        power = claims.power_table(read_table(REFERENCE / name))
        assert not power.empty and (power["n"] >= 2).all()


def test_the_claims_command_rewrites_each_tables_readme_block_and_refuses_a_readme_without_one(
    tmp_path, capsys
):
    """`--readme` fills the block of every table the README shows, leaves the rest of it alone, and a README
    with no block for any table given is a one-line error that leaves the file as it was."""
    from analysis.cli import main

    quick, long = REFERENCE / "quick.parquet", REFERENCE / "long.parquet"
    readme = tmp_path / "README.md"
    blocks = {
        n: f"{claims.README_BEGIN.format(table=n)}\nold\n{claims.README_END.format(table=n)}"
        for n in ("quick.parquet", "long.parquet")
    }
    readme.write_text(f"intro\n{blocks['quick.parquet']}\nmiddle\n{blocks['long.parquet']}\nend\n")
    out = tmp_path / "side.md"
    assert (
        main(["claims", "--results", str(quick), str(long), "--out", str(out), "--readme", str(readme)]) == 0
    )
    evaluations = {n: claims.evaluate(read_table(REFERENCE / n)) for n in ("quick.parquet", "long.parquet")}
    expected = "intro\n{}\nmiddle\n{}\nend\n".format(
        *(claims.readme_block(n, e) for n, e in evaluations.items())
    )
    assert readme.read_text() == expected

    readme.write_text("no blocks here\n")
    out.write_text("an earlier document\n")
    assert main(["claims", "--results", str(quick), "--out", str(out), "--readme", str(readme)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "no generated claims block for any of quick.parquet" in error
    assert len(error.strip().splitlines()) == 1 and readme.read_text() == "no blocks here\n"
    assert out.read_text() == "an earlier document\n"
