# -*- coding: utf-8 -*-
import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils._option_ranges import RANGES, range_problems


@pytest.mark.parametrize(
    "name, value, problem",
    [
        ("min_entries", 0, "min_entries must be at least 1 (a map is never empty), not 0"),
        ("min_entries", -5, "min_entries must be at least 1 (a map is never empty), not -5"),
        ("max_shrink_percent", -0.5, "max_shrink_percent must be from 0 to 100 (a share of the live entries), not -0.5"),
        ("max_shrink_percent", 100.5, "max_shrink_percent must be from 0 to 100 (a share of the live entries), not 100.5"),
        ("page_size", 0, "page_size must be from 1 to 100000"),
        ("page_size", 100001, "page_size must be from 1 to 100000"),
        ("timeout", 0, "timeout must be from 1 to 3600 (seconds), not 0"),
        ("diff_limit", -1, "diff_limit must be from 0 to 1000000"),
        ("refused_limit", 1000001, "refused_limit must be from 0 to 1000000"),
    ],
)
def test_a_value_outside_its_range_is_named_with_the_range_and_the_value(name, value, problem):
    problems = range_problems({name: value})
    assert len(problems) == 1 and problems[0].startswith(problem)


@pytest.mark.parametrize("name", sorted(RANGES))
def test_the_bounds_themselves_are_accepted(name):
    low, high, _meaning = RANGES[name]
    assert range_problems({name: low}) == []
    if high is not None:
        assert range_problems({name: high}) == []
    assert range_problems({name: None}) == []


def test_min_entries_has_no_upper_bound_and_every_problem_is_listed_in_name_order():
    assert range_problems({"min_entries": 10 ** 9}) == []
    problems = range_problems({"timeout": 0, "diff_limit": -1, "page_size": 5, "unknown": -1})
    assert [p.split()[0] for p in problems] == ["diff_limit", "timeout"]
