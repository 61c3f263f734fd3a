"""The router's choice (app.routing.services.choose), a pure function of the candidates' figures: least busy takes the
lowest load ÷ capacity, longest idle the agent idle longest, skills and room exclude, and each pick says why."""

from __future__ import annotations

import datetime as dt

from app.lib.clock import now
from app.routing.services import Candidate, choose


def _agent(user_id: int, *, idle_minutes: int = 0, free: int = 3, open_items: int = 0,
           skills: dict[str, int] | None = None) -> Candidate:
    since = now() - dt.timedelta(minutes=idle_minutes)
    return Candidate(user_id, f"Agent {user_id}", "operator", since, skills or {}, {"chat": free}, {}, open_items, None)


def _settings(strategy: str, skills: dict[str, int] | None = None) -> dict[str, object]:
    return {"strategy": strategy, "skills": skills or {}, "rr_last_user": None}


ITEM = {"id": 1, "channel": "chat", "contact": None}


def test_least_busy_takes_the_lowest_load_over_capacity() -> None:
    # 2 open of 3 (0.67), 1 open of 5 (0.17), 0 open of 1 (0.0): the idle one with room wins.
    agents = [_agent(1, open_items=2, free=1), _agent(2, open_items=1, free=4), _agent(3, open_items=0, free=1)]
    pick = choose(ITEM, agents, _settings("least_busy"), sticky_to=None, tried=set())
    assert pick.winner is not None and pick.winner.user_id == 3 and pick.reason == "load"
    assert [round(f["load"], 2) for f in pick.figures] == [0.67, 0.2, 0.0]


def test_longest_idle_takes_the_agent_idle_longest() -> None:
    agents = [_agent(1, idle_minutes=5), _agent(2, idle_minutes=30), _agent(3, idle_minutes=1)]
    pick = choose(ITEM, agents, _settings("longest_idle"), sticky_to=None, tried=set())
    assert pick.winner is not None and pick.winner.user_id == 2 and pick.reason == "idle_time"
    assert next(f for f in pick.figures if f["user_id"] == 2)["idle_seconds"] >= 30 * 60


def test_no_room_or_missing_skills_exclude_and_say_so() -> None:
    agents = [_agent(1, free=0, skills={"fr": 5}), _agent(2, skills={"fr": 1}), _agent(3, skills={"fr": 3})]
    pick = choose(ITEM, agents, _settings("round_robin", {"fr": 2}), sticky_to=None, tried=set())
    assert pick.winner is not None and pick.winner.user_id == 3 and pick.reason == "skills"
    assert [f["excluded"] for f in pick.figures] == ["no_room", "skills", ""]
    nobody = choose(ITEM, agents[:2], _settings("round_robin", {"fr": 2}), sticky_to=None, tried=set())
    assert nobody.winner is None


def test_an_agent_who_had_the_item_comes_again_only_when_everyone_had_it() -> None:
    agents = [_agent(1), _agent(2)]
    assert choose(ITEM, agents, _settings("round_robin"), sticky_to=None, tried={1}).winner.user_id == 2  # type: ignore[union-attr]
    assert choose(ITEM, agents, _settings("round_robin"), sticky_to=None, tried={1, 2}).winner is not None
    # Stickiness yields to eligibility: the last agent without room is not chosen.
    busy = [_agent(1, free=0), _agent(2)]
    pick = choose(ITEM, busy, _settings("round_robin"), sticky_to=1, tried=set())
    assert pick.winner is not None and pick.winner.user_id == 2 and pick.reason == "round_robin"
