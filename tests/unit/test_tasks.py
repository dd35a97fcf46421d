"""Which tasks a run plays: class-stratified meta-training draws and evaluation selections."""

from collections import Counter

import pytest

from benchmark.agent import EnvSpec
from benchmark.suites import SUITES, make_suite
from benchmark.suites.base import Task
from benchmark.tasks import TaskSampler, evaluation_tasks, task_classes


def classed_tasks(classes=3, goals=4):
    """Listed class by class, as Meta-World lists its tasks."""
    return [
        Task("meta_train", c * goals + g, None, None, name=f"c{c}#{g}", class_name=f"c{c}")
        for c in range(classes)
        for g in range(goals)
    ]


def test_training_draws_are_class_stratified_and_without_replacement():
    tasks = classed_tasks(classes=3, goals=4)
    sampler = TaskSampler(tasks, seed=0)
    draws = sampler.draw_many(3 * 4)
    # Every aligned block of `classes` draws covers each class once ...
    for block in range(4):
        assert sorted(t.class_name for t in draws[3 * block : 3 * block + 3]) == ["c0", "c1", "c2"]
    # ... and one full cycle hands out every goal exactly once.
    assert sorted(t.task_id for t in draws) == list(range(12))
    # The next cycle reshuffles: still stratified, again every goal once.
    assert sorted(t.task_id for t in sampler.draw_many(12)) == list(range(12))


def test_suites_without_classes_draw_uniformly_with_replacement():
    tasks = [Task("meta_train", i, float(i), None) for i in range(5)]
    draws = TaskSampler(tasks, seed=1).draw_many(2000)
    counts = Counter(t.task_id for t in draws)
    assert set(counts) == set(range(5)) and max(counts.values()) - min(counts.values()) < 150


def test_sampler_state_round_trips():
    tasks = classed_tasks()
    a = TaskSampler(tasks, seed=3)
    a.draw_many(5)
    b = TaskSampler(tasks, seed=99)
    b.load_state_dict(a.state_dict())
    assert [t.task_id for t in a.draw_many(20)] == [t.task_id for t in b.draw_many(20)]


def test_evaluation_tasks_round_robin_over_classes():
    picked = evaluation_tasks(classed_tasks(classes=3, goals=4), 7)
    assert [t.name for t in picked] == ["c0#0", "c1#0", "c2#0", "c0#1", "c1#1", "c2#1", "c0#2"]
    plain = [Task("meta_test", i, float(i), None) for i in range(4)]
    assert [t.task_id for t in evaluation_tasks(plain, 3)] == [0, 1, 2]  # the first N, as before
    assert [t.task_id for t in evaluation_tasks(plain, 6)] == [0, 1, 2, 3, 0, 1]  # repeats past the end


def test_ml10_evaluation_covers_every_held_out_class_and_training_is_stratified():
    """On the real benchmark: the first 10 meta_test tasks are all one class, so evaluation must stratify."""
    suite = make_suite("ml10", 0)
    test_tasks = suite.tasks("meta_test")
    assert len({t.class_name for t in test_tasks[:10]}) == 1  # what "the first N" used to pick
    picked = evaluation_tasks(test_tasks, 10)
    assert Counter(t.class_name for t in picked) == dict.fromkeys(task_classes(test_tasks), 2)
    train = suite.tasks("meta_train")
    assert len(task_classes(train)) == SUITES["ml10"].train_classes == 10
    draws = TaskSampler(train, seed=0).draw_many(20)
    assert Counter(t.class_name for t in draws) == dict.fromkeys(task_classes(train), 2)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_catalog_classes_match_the_built_suites(name):
    if SUITES[name].family != "metaworld":
        assert SUITES[name].train_classes == 0
        return
    if name in ("ml45",):
        pytest.skip("built in test_suites_metaworld; too slow to rebuild here without a cache")
    suite = make_suite(name, 0)
    assert len(task_classes(suite.tasks("meta_train"))) == SUITES[name].train_classes


@pytest.mark.parametrize("name", sorted(SUITES))
def test_catalog_shapes_and_splits_match_the_built_suites(name):
    """The cost model sizes networks from the catalog (no simulator): its widths and splits must be true."""
    if name in ("ml45",):
        pytest.skip("built in test_suites_metaworld; too slow to rebuild here without a cache")
    suite = make_suite(name, 0)  # catalog_suite refuses other splits
    spec = EnvSpec.from_suite(suite)
    assert (spec.obs_dim, spec.act_dim) == (SUITES[name].obs_dim, SUITES[name].act_dim)
    assert tuple(suite.splits) == SUITES[name].splits
